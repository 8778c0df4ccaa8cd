/** Loading a dense index directory of either kind. */
import { stat } from 'node:fs/promises';
import { readManifest, type DenseIndex } from './dense-index';
import type { Embedder } from './embedder';
import { ExactIndex } from './exact-index';
import { HnswIndex } from './hnsw-index';

/**
 * Loads an HNSW or exact index, whichever `manifest.json` says the directory holds.
 *
 * @example
 * const index = await loadDenseIndex('out/index', embedder);
 */
export async function loadDenseIndex(dir: string, embedder: Embedder): Promise<DenseIndex> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new Error(`no index directory at ${dir}`);
  const manifest = await readManifest(dir);
  return manifest.kind === 'hnsw' ? HnswIndex.load(dir, embedder) : ExactIndex.load(dir, embedder);
}
