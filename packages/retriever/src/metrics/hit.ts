import { gradeOf, topK, type Relevance } from './relevance';

/**
 * hit@k (a.k.a. success@k, top-k accuracy) = 1 when at least one relevant id is in the top k, else 0.
 *
 * @example hitAt(['a', 'b', 'c'], new Set(['c']), 2) // 0
 */
export function hitAt(ranked: readonly string[], relevant: Relevance, k: number): number {
  return topK(ranked, k).some((id) => gradeOf(relevant, id) > 0) ? 1 : 0;
}
