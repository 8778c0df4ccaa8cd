/**
 * Statistics of several systems scored on the same items, in the shape every report uses:
 *
 *   ci95:   { system: { metric: [low, high] } }                     (percentile bootstrap)
 *   paired: { system: { metric: { delta, low, high, p } } }         (each system after the first, against the first)
 */
import { bootstrapCis, validateBootstrapConfig, type BootstrapConfig } from './bootstrap';
import { pairedTests, type PairedResult } from './paired';

/** Per-item scores: system → metric → one value per item (the same items, in the same order, for every system). */
export type PerItemScores = Readonly<Record<string, Readonly<Record<string, ArrayLike<number>>>>>;

export interface SystemComparison {
  ci95: Record<string, Record<string, [number, number]>>;
  paired: Record<string, Record<string, PairedResult>>;
}

/**
 * Confidence intervals of every system's metrics, and a paired test of each later system against
 * the first (`baseline` to pick another). Systems appear in insertion order.
 *
 * @example
 * const { ci95, paired } = compareSystems({ bm25: bm25.perQuery, hybrid: hybrid.perQuery });
 * paired.hybrid['ndcg@10'] // { delta, low, high, p }
 */
export function compareSystems(
  perItem: PerItemScores,
  config: Partial<BootstrapConfig> & { baseline?: string } = {},
): SystemComparison {
  const { baseline, ...rest } = config;
  const c = validateBootstrapConfig(rest);
  const systems = Object.keys(perItem);
  const base = baseline ?? systems[0];
  const ci95: SystemComparison['ci95'] = {};
  const paired: SystemComparison['paired'] = {};
  for (const s of systems) ci95[s] = bootstrapCis(perItem[s]!, c);
  if (base !== undefined) {
    if (!perItem[base]) throw new Error(`compareSystems: baseline "${base}" is not one of ${systems.join(', ')}`);
    for (const s of systems) if (s !== base) paired[s] = pairedTests(perItem[base]!, perItem[s]!, c);
  }
  return { ci95, paired };
}
