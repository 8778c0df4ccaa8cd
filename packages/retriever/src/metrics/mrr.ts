import { gradeOf, topK, type Relevance } from './relevance';

/**
 * Reciprocal rank at k = 1 / (rank of the first relevant id), ranks starting at 1; 0 when no
 * relevant id is in the top k. MRR@k is its mean over queries.
 *
 * @example reciprocalRankAt(['a', 'b', 'c'], new Set(['b', 'c']), 10) // 0.5
 */
export function reciprocalRankAt(ranked: readonly string[], relevant: Relevance, k: number): number {
  const top = topK(ranked, k);
  for (let i = 0; i < top.length; i++) if (gradeOf(relevant, top[i]!) > 0) return 1 / (i + 1);
  return 0;
}
