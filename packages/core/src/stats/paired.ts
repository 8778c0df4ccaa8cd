/**
 * Paired significance of a difference between two systems scored on the same items (queries,
 * questions): the per-item differences d_i = b_i − a_i.
 *
 * - delta = mean(d); [low, high] is its percentile bootstrap interval (items resampled with
 *   replacement, the pairs kept together; Koehn 2004, "Statistical significance tests for
 *   machine translation evaluation").
 * - p is a two-sided approximate-randomisation (sign-flip permutation) test of "no difference"
 *   (Noreen 1989; Riezler & Maxwell 2005): under the null hypothesis the two systems' scores
 *   on an item are exchangeable, so each d_i keeps or flips its sign with probability 1/2;
 *   p = (1 + #{|mean(±d)| ≥ |delta|}) / (1 + R) over R random sign vectors. With 2^m ≤ R, where
 *   m counts the non-zero differences (zeros do not change under a flip), all 2^m sign vectors
 *   are enumerated and p is exact: #{|mean(±d)| ≥ |delta|} / 2^m (scipy's `permutation_test`
 *   with `permutation_type='samples'` does the same).
 *
 * Identical systems give delta 0 and p = 1; a system better on each of 20 items gives
 * p ≈ 2/2^20 (exact) or 1/(R+1) (randomised).
 */
import { Rng, mixSeed } from '../rng';
import {
  mean,
  percentileInterval,
  resampleIndices,
  resampledMeans,
  validateBootstrapConfig,
  type BootstrapConfig,
} from './bootstrap';

/** Difference of the second system from the first on one metric. */
export interface PairedResult {
  /** mean(b) − mean(a). */
  delta: number;
  /** Bootstrap interval of delta. */
  low: number;
  high: number;
  /** Two-sided p-value of "no difference" (approximate randomisation). */
  p: number;
}

/** Relative tolerance when comparing |mean| to |delta| (floating-point sums of equal values). */
const TIE_EPS = 1e-12;

/**
 * Two-sided approximate-randomisation p-value of mean(d) ≠ 0 for paired differences `d`.
 * Exact enumeration when 2^(non-zero d) ≤ `resamples`.
 *
 * @example
 * signFlipPValue([0, 0, 0])                  // 1
 * signFlipPValue([1, 1, 1, 1, 1, 1, 1, 1])   // 2/256 = 0.0078125 (exact)
 */
export function signFlipPValue(d: ArrayLike<number>, config: Partial<BootstrapConfig> = {}): number {
  const c = validateBootstrapConfig(config);
  const nz: number[] = [];
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) nz.push(d[i]!);
  const m = nz.length;
  if (m === 0) return 1;
  const observed = Math.abs(nz.reduce((s, x) => s + x, 0)); // |Σ d| (n is the same under every flip)
  const scale = nz.reduce((s, x) => s + Math.abs(x), 0);
  const atLeast = (sum: number) => Math.abs(sum) >= observed - TIE_EPS * scale;
  if (m <= 30 && 2 ** m <= c.resamples) {
    let count = 0;
    const total = 2 ** m;
    for (let mask = 0; mask < total; mask++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += mask & (1 << i) ? -nz[i]! : nz[i]!;
      if (atLeast(s)) count++;
    }
    return count / total;
  }
  const rng = new Rng(mixSeed(c.seed, 0x5eed));
  let count = 0;
  for (let r = 0; r < c.resamples; r++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += rng.next() < 0.5 ? -nz[i]! : nz[i]!;
    if (atLeast(s)) count++;
  }
  return (count + 1) / (c.resamples + 1);
}

/**
 * Paired comparison of system `b` against system `a` on the same items.
 *
 * @example
 * pairedTest(bm25PerQuery, hybridPerQuery) // { delta: 0.03, low: 0.01, high: 0.05, p: 0.004 }
 */
export function pairedTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  config: Partial<BootstrapConfig> = {},
): PairedResult {
  return pairedTests({ m: a }, { m: b }, config).m!;
}

/**
 * `pairedTest` for several metrics at once (vectors keyed by metric name, all of one length n);
 * the bootstrap resamples are shared across metrics.
 */
export function pairedTests(
  a: Readonly<Record<string, ArrayLike<number>>>,
  b: Readonly<Record<string, ArrayLike<number>>>,
  config: Partial<BootstrapConfig> = {},
): Record<string, PairedResult> {
  const c = validateBootstrapConfig(config);
  const names = Object.keys(a);
  if (names.length === 0) return {};
  const n = a[names[0]!]!.length;
  if (n === 0) throw new Error('pairedTest: no items');
  const idx = resampleIndices(n, c.resamples, c.seed);
  const out: Record<string, PairedResult> = {};
  for (const m of names) {
    const x = a[m]!;
    const y = b[m];
    if (!y) throw new Error(`pairedTest: metric "${m}" is missing from the second system`);
    if (x.length !== n || y.length !== n)
      throw new Error(
        `pairedTest: metric "${m}" has ${x.length} and ${y.length} values, expected ${n} each (the same items)`,
      );
    const d = new Float64Array(n);
    for (let i = 0; i < n; i++) d[i] = y[i]! - x[i]!;
    const [low, high] = percentileInterval(resampledMeans(d, idx), c.confidence);
    out[m] = { delta: mean(d), low, high, p: signFlipPValue(d, c) };
  }
  return out;
}
