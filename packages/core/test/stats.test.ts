/**
 * Bootstrap intervals and paired tests against hand-computed cases and against
 * scripts/reference/stats_reference.py (exact permutation p-values, 200,000-resample intervals).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bootstrapCi,
  bootstrapCis,
  compareSystems,
  pairedTest,
  quantileSorted,
  signFlipPValue,
  validateBootstrapConfig,
} from '../src/index';

/** The test vectors of the reference script (MINSTD generator, same formula). */
function lcgValues(n: number, seed: number, kind: 'binary' | 'uniform'): number[] {
  const out: number[] = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (48271 * x) % 2147483647;
    const u = x / 2147483647;
    out.push(kind === 'binary' ? (u < 0.6 ? 1 : 0) : Math.round(u * 1e6) / 1e6);
  }
  return out;
}

describe('bootstrap confidence intervals', () => {
  it('a constant has a zero-width interval at the constant', () => {
    expect(bootstrapCi([0.25, 0.25, 0.25, 0.25])).toEqual([0.25, 0.25]);
  });
  it('quantiles interpolate linearly between order statistics (numpy default)', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([0, 10], 0.025)).toBeCloseTo(0.25, 12);
    expect(quantileSorted([0, 10, 20], 0.975)).toBeCloseTo(19.5, 12);
  });
  it('is seeded: the same seed gives the same interval, another seed another one', () => {
    const xs = lcgValues(40, 9, 'uniform');
    expect(bootstrapCi(xs, { seed: 4 })).toEqual(bootstrapCi(xs, { seed: 4 }));
    expect(bootstrapCi(xs, { seed: 4 })).not.toEqual(bootstrapCi(xs, { seed: 5 }));
  });
  it('brackets the mean and matches the normal-theory interval on 400 Bernoulli(0.6) draws', () => {
    // mean 0.6 exactly (240 ones); normal interval 0.6 ± 1.96·sqrt(0.24/400) = 0.6 ± 0.0480
    const xs = [...Array(240).fill(1), ...Array(160).fill(0)];
    const [lo, hi] = bootstrapCi(xs);
    expect(lo).toBeLessThan(0.6);
    expect(hi).toBeGreaterThan(0.6);
    expect(lo).toBeCloseTo(0.552, 1);
    expect(Math.abs(lo - 0.552)).toBeLessThan(0.008);
    expect(Math.abs(hi - 0.648)).toBeLessThan(0.008);
  });
  it('several metrics share resamples; errors name the bad field', () => {
    const xs = lcgValues(30, 2, 'uniform');
    const both = bootstrapCis({ a: xs, b: xs.map((x) => 2 * x) });
    expect(both.b![0]).toBeCloseTo(2 * both.a![0], 12); // same resamples → exactly scaled interval
    expect(() => bootstrapCis({ a: [1, 2], b: [1] })).toThrow(/metric "b" has 1 values, expected 2/);
    expect(() => validateBootstrapConfig({ confidence: 1 })).toThrow(/confidence must be in \(0, 1\), got 1/);
    expect(() => validateBootstrapConfig({ resamples: 0 })).toThrow(/resamples must be an integer ≥ 1, got 0/);
  });
});

describe('paired tests', () => {
  it('identical systems: delta 0, interval [0, 0], p = 1', () => {
    const a = lcgValues(25, 3, 'uniform');
    expect(pairedTest(a, [...a])).toEqual({ delta: 0, low: 0, high: 0, p: 1 });
  });
  it('a system better on every one of 20 queries: p < 0.01, interval above 0', () => {
    const a = lcgValues(20, 8, 'uniform').map((x) => x / 2);
    const b = a.map((x, i) => x + 0.1 + 0.01 * (i % 3));
    const r = pairedTest(a, b);
    expect(r.p).toBeLessThan(0.01);
    expect(r.p).toBeCloseTo(1 / 1001, 6); // no random sign vector reaches |delta|: (0 + 1)/(1000 + 1)
    expect(r.delta).toBeCloseTo(0.1 + (0.01 * (7 * 0 + 7 * 1 + 6 * 2)) / 20, 12);
    expect(r.low).toBeGreaterThan(0.1);
    expect(r.high).toBeLessThan(0.12);
  });
  it('hand-computed exact sign-flip p-values', () => {
    expect(signFlipPValue([1, 1, 1])).toBe(0.25); // only +++ and −−− reach |3|: 2/8
    // [1, −1, 2] (zeros dropped): sums ±1±1±2 → |Σ| ≥ 2 for 6 of 8 sign vectors
    expect(signFlipPValue([1, -1, 2, 0])).toBe(0.75);
    expect(signFlipPValue([0, 0])).toBe(1);
  });
  it('the statistic is symmetric: swapping the systems flips delta and keeps p', () => {
    const a = lcgValues(50, 13, 'uniform');
    const b = lcgValues(50, 17, 'uniform');
    const ab = pairedTest(a, b);
    const ba = pairedTest(b, a);
    expect(ba.delta).toBeCloseTo(-ab.delta, 12);
    expect(ba.p).toBe(ab.p);
    expect(ba.low).toBeCloseTo(-ab.high, 12);
  });
  it('compareSystems: ci95 per system, paired tests of later systems against the first', () => {
    const a = { 'ndcg@10': [0, 1, 0, 1], 'recall@5': [0, 1, 1, 1] };
    const b = { 'ndcg@10': [1, 1, 1, 1], 'recall@5': [0, 1, 1, 1] };
    const { ci95, paired } = compareSystems({ bm25: a, hybrid: b });
    expect(Object.keys(ci95)).toEqual(['bm25', 'hybrid']);
    expect(ci95.hybrid!['ndcg@10']).toEqual([1, 1]);
    expect(Object.keys(paired)).toEqual(['hybrid']);
    expect(paired.hybrid!['recall@5']).toEqual({ delta: 0, low: 0, high: 0, p: 1 });
    expect(paired.hybrid!['ndcg@10']!.delta).toBe(0.5);
    expect(paired.hybrid!['ndcg@10']!.p).toBe(0.5); // d = [1, 0, 1, 0]: 2 non-zero, |Σ| = 2 for ++ and −−
  });
});

const refFile = path.join(
  process.env.DALM_REFERENCE_DIR ?? path.join(os.homedir(), '.cache', 'dalm', 'reference'),
  'stats.json',
);
describe.skipIf(!existsSync(refFile))('against scripts/reference/stats_reference.py', () => {
  interface Ref {
    sign_flip: { d: number[]; p: number }[];
    bootstrap: { kind: 'binary' | 'uniform'; n: number; seed: number; mean: number; ci95: [number, number] }[];
    paired: { a_seed: number; b_seed: number; n: number; delta: number; ci95: [number, number] }[];
  }
  const ref = existsSync(refFile) ? (JSON.parse(readFileSync(refFile, 'utf8')) as Ref) : null;
  it('exact sign-flip p-values equal the enumerated ones', () => {
    for (const c of ref!.sign_flip) expect(signFlipPValue(c.d, { resamples: 2 ** c.d.length })).toBeCloseTo(c.p, 12);
  });
  it('bootstrap intervals agree with a 200,000-resample reference within 0.02', () => {
    for (const c of ref!.bootstrap) {
      const [lo, hi] = bootstrapCi(lcgValues(c.n, c.seed, c.kind));
      expect(Math.abs(lo - c.ci95[0])).toBeLessThan(0.02);
      expect(Math.abs(hi - c.ci95[1])).toBeLessThan(0.02);
    }
    for (const c of ref!.paired) {
      const r = pairedTest(lcgValues(c.n, c.a_seed, 'uniform'), lcgValues(c.n, c.b_seed, 'uniform'));
      expect(r.delta).toBeCloseTo(c.delta, 10);
      expect(Math.abs(r.low - c.ci95[0])).toBeLessThan(0.02);
      expect(Math.abs(r.high - c.ci95[1])).toBeLessThan(0.02);
    }
  });
});
if (!existsSync(refFile))
  console.warn(
    `stats.test: ${refFile} missing; run \`python3 scripts/reference/stats_reference.py\` (standard library only) to check against the reference`,
  );
