import { gradeOf, relevantGrades, topK, type Relevance } from './relevance';

/**
 * nDCG@k with graded relevance and a log2 discount, as in trec_eval / pytrec_eval (BEIR):
 *
 *   DCG@k  = Σ_{i=1..k} grade(d_i) / log2(i + 1)          (linear gain, not 2^grade − 1)
 *   nDCG@k = DCG@k / IDCG@k,  IDCG@k = DCG@k of the judged grades sorted in decreasing order.
 *
 * 0 when the query has no relevant documents. A set counts every member as grade 1.
 *
 * @example ndcgAt(['x', 'a'], new Set(['a']), 10) // (1/log2 3) / 1 = 0.6309…
 */
export function ndcgAt(ranked: readonly string[], relevant: Relevance, k: number): number {
  const ideal = relevantGrades(relevant)
    .sort((a, b) => b - a)
    .slice(0, k);
  let idcg = 0;
  for (let i = 0; i < ideal.length; i++) idcg += ideal[i]! / Math.log2(i + 2);
  if (idcg === 0) return 0;
  let dcg = 0;
  const top = topK(ranked, k);
  for (let i = 0; i < top.length; i++) dcg += gradeOf(relevant, top[i]!) / Math.log2(i + 2);
  return dcg / idcg;
}
