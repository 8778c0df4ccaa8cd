import { gradeOf, relevantGrades, topK, type Relevance } from './relevance';

/**
 * Average precision at k, as trec_eval's map_cut (used by BEIR):
 *
 *   AP@k = (1 / |R|) · Σ_{i ≤ k, d_i relevant} precision@i
 *
 * where |R| is the number of all relevant documents (not capped at k, so a query with more
 * relevant documents than k cannot reach 1). 0 when the query has none. MAP@k is the mean over queries.
 *
 * @example averagePrecisionAt(['a', 'x', 'b'], new Set(['a', 'b']), 10) // (1/1 + 2/3) / 2 = 0.8333…
 */
export function averagePrecisionAt(ranked: readonly string[], relevant: Relevance, k: number): number {
  const total = relevantGrades(relevant).length;
  if (total === 0) return 0;
  let found = 0;
  let sum = 0;
  const top = topK(ranked, k);
  for (let i = 0; i < top.length; i++) {
    if (gradeOf(relevant, top[i]!) > 0) {
      found++;
      sum += found / (i + 1);
    }
  }
  return sum / total;
}
