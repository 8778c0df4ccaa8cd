/** Opening an index directory together with its retriever, as `search`, `ask` and `serve` do. */
import type { InferenceRuntimeChoice } from '@dalm/core';
import { IndexDir, recordedRetriever } from './index-dir';
import { loadRetriever, type RetrieverEmbedder } from './onnx-encoder';

/**
 * Opens an index directory with the retriever given, else the one recorded in it, else BM25 only;
 * the retriever runs on `runtime` (default auto: ONNX Runtime when installed).
 */
export async function openIndexWithRetriever(
  indexDir: string,
  retrieverDir?: string,
  runtime: InferenceRuntimeChoice = 'auto',
): Promise<{ index: IndexDir; encoder: RetrieverEmbedder | null }> {
  const dir = retrieverDir ?? (await recordedRetriever(indexDir));
  const encoder = dir ? await loadRetriever(dir, { runtime }) : null;
  return { index: await IndexDir.open(indexDir, encoder), encoder };
}
