/**
 * Output-path guard: before a command writes (and atomically replaces) an output directory, check
 * that what is there may be replaced. The framework only replaces a directory it recognises as its
 * own kind of artifact (by marker files), an empty directory, or a path that does not exist yet;
 * it never replaces a plain file, and never a directory that is, or contains, one of the command's
 * own inputs — not even with `--force`.
 */
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';

export interface OutGuardOptions {
  /** What the command writes there, for messages: "index directory", "model directory". */
  what: string;
  /**
   * Marker sets: the directory is recognised as ours when every file of at least one set exists
   * in it (e.g. `[['bm25.json'], ['manifest.json']]`, `[['config.json', 'model.safetensors']]`).
   */
  markers: readonly (readonly string[])[];
  /** Paths the command reads; the output may not be one of them or contain one. */
  sources?: readonly string[];
  /** Replace an unrecognised non-empty directory anyway (`--force`). */
  force?: boolean;
  /** The option that named the output, for messages (default `--out`). */
  flag?: string;
}

/** Markers of an index directory (BM25 always, a dense index with a manifest). */
export const INDEX_DIR_MARKERS: readonly (readonly string[])[] = [['bm25.json'], ['manifest.json']];
/** Markers of a model directory: Hugging Face weights + config, or a PEFT adapter. */
export const MODEL_DIR_MARKERS: readonly (readonly string[])[] = [
  ['config.json', 'model.safetensors'],
  ['config.json', 'model.safetensors.index.json'],
  ['adapter_config.json'],
];

async function realOrResolved(p: string): Promise<string> {
  const abs = path.resolve(p);
  return fsp.realpath(abs).catch(() => abs);
}

/** True when `inner` is `outer` or lies inside it. */
function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Throws a one-line error when `out` must not be replaced; resolves when it may be written.
 *
 * @example
 * await checkReplaceableOut('runs/index', { what: 'index directory', markers: INDEX_DIR_MARKERS, sources: ['docs/'] });
 */
export async function checkReplaceableOut(out: string, opts: OutGuardOptions): Promise<void> {
  const flag = opts.flag ?? '--out';
  const target = await realOrResolved(out);
  for (const source of opts.sources ?? []) {
    const src = await realOrResolved(source);
    if (isWithin(src, target)) {
      throw new Error(`${flag} ${out} would replace the input ${source}; choose an output directory outside it`);
    }
  }
  let stat: Stats;
  try {
    stat = await fsp.stat(target);
  } catch {
    return; // nothing there yet
  }
  if (!stat.isDirectory())
    throw new Error(
      `${flag} ${out} is an existing file, not a directory; choose another path (the file is left as it is)`,
    );
  const entries = await fsp.readdir(target);
  if (entries.length === 0) return;
  const names = new Set(entries);
  if (opts.markers.some((set) => set.every((f) => names.has(f)))) return;
  if (opts.force) return;
  const expected = opts.markers.map((set) => set.join(' + ')).join(' or ');
  throw new Error(
    `${flag} ${out} exists and is not ${/^[aeiou]/i.test(opts.what) ? 'an' : 'a'} ${opts.what} written by dalm (no ${expected}); refusing to replace it — choose a new directory, or pass --force to replace it`,
  );
}
