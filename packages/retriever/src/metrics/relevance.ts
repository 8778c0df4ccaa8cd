/**
 * Relevance judgements for one query, as taken by every metric: either a set of relevant ids
 * (each of grade 1) or a map id → grade. Grades ≤ 0 mean "judged not relevant".
 */
export type Relevance = ReadonlySet<string> | ReadonlyMap<string, number>;

/** Grade of `id` (0 when not relevant or not judged). */
export function gradeOf(relevant: Relevance, id: string): number {
  if (relevant instanceof Map) return Math.max(0, relevant.get(id) ?? 0);
  return (relevant as ReadonlySet<string>).has(id) ? 1 : 0;
}

/** Grades > 0 of all relevant ids (order unspecified). */
export function relevantGrades(relevant: Relevance): number[] {
  if (relevant instanceof Map) return [...relevant.values()].filter((g) => g > 0);
  return [...(relevant as ReadonlySet<string>)].map(() => 1);
}

/**
 * The first `k` distinct ids of a ranking: a repeated id counts only where it first appears
 * (so a retriever cannot gain by returning one relevant passage twice).
 */
export function topK(ranked: readonly string[], k: number): string[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`metric cutoff k must be an integer ≥ 1, got ${k}`);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ranked) {
    if (out.length >= k) break;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(id);
  }
  return out;
}
