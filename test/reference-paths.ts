/**
 * Where tests find what the Python reference scripts (scripts/reference/) wrote and the checkpoints
 * the reference venv installed, so every reference test names one place and says one thing when it
 * is missing.
 *
 *   DALM_REFERENCE_DIR  reference outputs (default ~/.cache/dalm/reference)
 *   DALM_PYREF          the reference Python venv (default ~/.cache/dalm/pyref; scripts/reference/setup-venv.sh)
 *
 * Make both with: bash scripts/reference/setup-venv.sh && bash scripts/reference/make-all.sh
 */
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The directory the reference scripts write into. */
export function referenceDir(): string {
  return process.env.DALM_REFERENCE_DIR || path.join(os.homedir(), '.cache', 'dalm', 'reference');
}

/** The reference Python venv. */
export function pyrefDir(): string {
  return process.env.DALM_PYREF || path.join(os.homedir(), '.cache', 'dalm', 'pyref');
}

/** A path inside the reference directory. */
export function referencePath(...parts: string[]): string {
  return path.join(referenceDir(), ...parts);
}

/**
 * A directory of an installed Python package in the reference venv (`<venv>/lib/python3.X/site-packages/<pkg>/<sub>`),
 * or undefined when the venv or the package is absent.
 */
export function pyrefPackagePath(pkg: string, ...sub: string[]): string | undefined {
  const lib = path.join(pyrefDir(), 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)
    .filter((d) => d.startsWith('python'))
    .sort()) {
    const p = path.join(lib, py, 'site-packages', pkg, ...sub);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** How to make the reference outputs, for skip messages. */
export const MAKE_REFERENCE =
  'run `bash scripts/reference/setup-venv.sh && bash scripts/reference/make-all.sh` (or set DALM_REFERENCE_DIR / DALM_PYREF)';

/** A skip message when `file` is missing, else undefined. */
export function missingReference(file: string, what: string): string | undefined {
  return existsSync(file) ? undefined : `${what}: ${file} is missing; ${MAKE_REFERENCE}`;
}
