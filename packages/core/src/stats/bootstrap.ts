/**
 * Percentile bootstrap confidence intervals of a mean (Efron & Tibshirani, "An Introduction to
 * the Bootstrap", 1993, ch. 13): draw `resamples` samples of size n with replacement from the n
 * per-item values, take each sample's mean, and report the (1−c)/2 and (1+c)/2 quantiles of those
 * means. Seeded (the project's mulberry32 `Rng`), so a report is reproducible.
 *
 * Several metrics measured on the same items share the resample indices (`bootstrapCis`), as
 * they would in a paired analysis.
 */
import { Rng } from '../rng';

export interface BootstrapConfig {
  /** Bootstrap resamples (1,000 by default). */
  resamples: number;
  /** Confidence level in (0, 1) (0.95 by default). */
  confidence: number;
  /** Seed of the resampling. */
  seed: number;
}

export const DEFAULT_BOOTSTRAP_CONFIG: Readonly<BootstrapConfig> = Object.freeze({
  resamples: 1000,
  confidence: 0.95,
  seed: 1,
});

/** Fills defaults and checks ranges; errors name the field and its valid values. */
export function validateBootstrapConfig(config: Partial<BootstrapConfig> = {}): BootstrapConfig {
  const c = { ...DEFAULT_BOOTSTRAP_CONFIG, ...config };
  if (!Number.isInteger(c.resamples) || c.resamples < 1)
    throw new Error(`bootstrap config: resamples must be an integer ≥ 1, got ${c.resamples}`);
  if (!(c.confidence > 0 && c.confidence < 1))
    throw new Error(`bootstrap config: confidence must be in (0, 1), got ${c.confidence}`);
  if (!Number.isInteger(c.seed)) throw new Error(`bootstrap config: seed must be an integer, got ${c.seed}`);
  return c;
}

/** Mean of `xs` (0 for an empty list). */
export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return xs.length ? s / xs.length : 0;
}

/**
 * The q-quantile of sorted values with linear interpolation between order statistics
 * (numpy's default `linear` method / R type 7): position h = (n − 1)·q.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty list');
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** `resamples` lists of n indices drawn uniformly with replacement, as one flat array. */
export function resampleIndices(n: number, resamples: number, seed: number): Uint32Array {
  const rng = new Rng(seed);
  const out = new Uint32Array(n * resamples);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(n);
  return out;
}

/** Means of `values` over each resample of `indices` (n indices per resample). */
export function resampledMeans(values: ArrayLike<number>, indices: Uint32Array): Float64Array {
  const n = values.length;
  const r = indices.length / n;
  const means = new Float64Array(r);
  for (let b = 0; b < r; b++) {
    let s = 0;
    const off = b * n;
    for (let i = 0; i < n; i++) s += values[indices[off + i]!]!;
    means[b] = s / n;
  }
  return means;
}

/** [low, high] percentile interval of bootstrap means. */
export function percentileInterval(means: Float64Array, confidence: number): [number, number] {
  const sorted = Float64Array.from(means).sort();
  const a = (1 - confidence) / 2;
  return [quantileSorted(sorted, a), quantileSorted(sorted, 1 - a)];
}

/**
 * Percentile bootstrap interval of the mean of `values`.
 *
 * @example
 * bootstrapCi([1, 0, 1, 1, 0, 1]) // ≈ [0.33, 1] (95 %, 1,000 resamples, seed 1)
 * bootstrapCi([0.5, 0.5, 0.5])    // [0.5, 0.5]
 */
export function bootstrapCi(values: ArrayLike<number>, config: Partial<BootstrapConfig> = {}): [number, number] {
  const c = validateBootstrapConfig(config);
  if (values.length === 0) throw new Error('bootstrapCi: no values');
  return percentileInterval(resampledMeans(values, resampleIndices(values.length, c.resamples, c.seed)), c.confidence);
}

/**
 * Percentile bootstrap intervals of several metrics measured on the same n items (one vector per
 * metric, all of length n); the resamples are shared across metrics.
 *
 * @example
 * bootstrapCis({ 'ndcg@10': perQueryNdcg, 'recall@5': perQueryRecall }) // { 'ndcg@10': [lo, hi], ... }
 */
export function bootstrapCis(
  perItem: Readonly<Record<string, ArrayLike<number>>>,
  config: Partial<BootstrapConfig> = {},
): Record<string, [number, number]> {
  const c = validateBootstrapConfig(config);
  const names = Object.keys(perItem);
  if (names.length === 0) return {};
  const n = perItem[names[0]!]!.length;
  if (n === 0) throw new Error('bootstrapCis: no values');
  for (const m of names)
    if (perItem[m]!.length !== n)
      throw new Error(`bootstrapCis: metric "${m}" has ${perItem[m]!.length} values, expected ${n}`);
  const idx = resampleIndices(n, c.resamples, c.seed);
  return Object.fromEntries(names.map((m) => [m, percentileInterval(resampledMeans(perItem[m]!, idx), c.confidence)]));
}
