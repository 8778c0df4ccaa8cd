/**
 * Answer metrics with SQuAD normalisation (Rajpurkar et al., 2016; the official evaluate-v1.1
 * script): lower-case, drop punctuation, drop the articles a/an/the, collapse white space.
 * Against several reference answers, the best score counts.
 */

/** SQuAD answer normalisation. */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

/** 1 if the normalised prediction equals a normalised reference, else 0. */
export function exactMatch(prediction: string, references: readonly string[]): number {
  const p = normalizeAnswer(prediction);
  return references.some((r) => normalizeAnswer(r) === p) ? 1 : 0;
}

/** Token-overlap F1 of one prediction against one reference (bag of normalised tokens). */
export function tokenF1Single(prediction: string, reference: string): number {
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean);
  const r = normalizeAnswer(reference).split(' ').filter(Boolean);
  if (p.length === 0 || r.length === 0) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      common++;
      counts.set(t, n - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Best token F1 over the references. */
export function tokenF1(prediction: string, references: readonly string[]): number {
  return Math.max(0, ...references.map((r) => tokenF1Single(prediction, r)));
}

/** Names the answer evaluator reports; `f1` is primary (answers here are long spans). */
export const ANSWER_METRIC_NAMES = ['exact_match', 'f1'] as const;
export const PRIMARY_ANSWER_METRIC = 'f1';

/** Mean exact match and F1 over (prediction, references) pairs. */
export function scoreAnswers(
  items: readonly { prediction: string; references: readonly string[] }[],
): Record<string, number> {
  if (items.length === 0) return { exact_match: 0, f1: 0, count: 0 };
  let em = 0;
  let f1 = 0;
  for (const it of items) {
    em += exactMatch(it.prediction, it.references);
    f1 += tokenF1(it.prediction, it.references);
  }
  return { exact_match: em / items.length, f1: f1 / items.length, count: items.length };
}
