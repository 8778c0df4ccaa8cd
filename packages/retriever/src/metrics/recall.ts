import { gradeOf, relevantGrades, topK, type Relevance } from './relevance';

/**
 * recall@k = |relevant ∩ top-k| / |relevant|  (grades are ignored: any grade > 0 is relevant).
 * 0 when the query has no relevant documents.
 *
 * @example recallAt(['a', 'b', 'c'], new Set(['a', 'c', 'z']), 2) // 1/3
 */
export function recallAt(ranked: readonly string[], relevant: Relevance, k: number): number {
  const total = relevantGrades(relevant).length;
  if (total === 0) return 0;
  let found = 0;
  for (const id of topK(ranked, k)) if (gradeOf(relevant, id) > 0) found++;
  return found / total;
}
