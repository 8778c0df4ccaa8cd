/**
 * PyTorch's figure for a bench, from scripts/reference/bench_torch.py, when `import torch` works in
 * `$DALM_PYTHON` (else /work/pyref/venv/bin/python, else python3). The benches print it beside their
 * own in the same run, with the same model, batch and thread count (1: tfjs' wasm under Node has one).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'scripts',
  'reference',
  'bench_torch.py',
);

/** The Python the benches use. */
export function pythonForReference(env: Record<string, string | undefined> = process.env): string {
  if (env.DALM_PYTHON) return env.DALM_PYTHON;
  return existsSync('/work/pyref/venv/bin/python') ? '/work/pyref/venv/bin/python' : 'python3';
}

/** PyTorch's timing, or why there is none. */
export type PytorchResult =
  | { msPerStep: number[]; medianMs: number; threads: number; torch: string }
  | { skipped: string };

/**
 * Runs bench_torch.py with `args` (e.g. ['--model', 'lm', '--batch', '8']) and returns its timings.
 *
 * @example
 *   const ref = runPytorchReference(['--model', 'lm', '--steps', '3']);
 *   if ('medianMs' in ref) console.log(`PyTorch: ${ref.medianMs} ms/step`);
 */
export function runPytorchReference(args: string[], timeoutMs = 600_000): PytorchResult {
  const python = pythonForReference();
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    return {
      skipped: `\`${python} -c "import torch"\` failed (${(probe.stderr || String(probe.error ?? '')).trim().split('\n').at(-1)}); set DALM_PYTHON to a Python with torch`,
    };
  }
  const run = spawnSync(python, [SCRIPT, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (run.status !== 0)
    return {
      skipped: `${path.basename(SCRIPT)} failed: ${(run.stderr || String(run.error ?? '')).trim().split('\n').at(-1)}`,
    };
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
    ms_per_step: number[];
    median_ms: number;
    threads: number;
    torch: string;
  };
  return { msPerStep: out.ms_per_step, medianMs: out.median_ms, threads: out.threads, torch: out.torch };
}
