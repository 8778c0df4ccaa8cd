import { describe, expect, it } from 'vitest';
import { averagePrecisionAt, hitAt, ndcgAt, recallAt, reciprocalRankAt } from '../src/index';

// Ranking used throughout: a b c d e. Relevant (binary): b, d, and z which is never retrieved.
const ranked = ['a', 'b', 'c', 'd', 'e'];
const rel = new Set(['b', 'd', 'z']);
// Graded: b → 2, d → 1, z → 3, a judged non-relevant (0).
const graded = new Map([
  ['a', 0],
  ['b', 2],
  ['d', 1],
  ['z', 3],
]);
const none = new Set<string>();

describe('recall@k', () => {
  it('counts relevant ids in the top k over all relevant ids', () => {
    expect(recallAt(ranked, rel, 1)).toBe(0);
    expect(recallAt(ranked, rel, 2)).toBeCloseTo(1 / 3, 12);
    expect(recallAt(ranked, rel, 4)).toBeCloseTo(2 / 3, 12);
    expect(recallAt(ranked, rel, 100)).toBeCloseTo(2 / 3, 12); // k beyond the ranking
    expect(recallAt(ranked, graded, 5)).toBeCloseTo(2 / 3, 12); // grade 0 is not relevant
  });
  it('counts a repeated id once', () => {
    expect(recallAt(['b', 'b', 'd'], new Set(['b', 'd']), 2)).toBe(1);
  });
  it('is 0 with no relevant ids or an empty ranking', () => {
    expect(recallAt(ranked, none, 10)).toBe(0);
    expect(recallAt([], rel, 10)).toBe(0);
  });
  it('rejects a bad cutoff', () => {
    expect(() => recallAt(ranked, rel, 0)).toThrow(/k must be an integer ≥ 1, got 0/);
  });
});

describe('hit@k', () => {
  it('is 1 iff a relevant id is in the top k', () => {
    expect(hitAt(ranked, rel, 1)).toBe(0);
    expect(hitAt(ranked, rel, 2)).toBe(1);
    expect(hitAt(ranked, new Map([['a', 0]]), 5)).toBe(0);
    expect(hitAt(ranked, none, 5)).toBe(0);
  });
});

describe('MRR@k', () => {
  it('is the reciprocal rank of the first relevant id within k', () => {
    expect(reciprocalRankAt(ranked, rel, 10)).toBe(0.5);
    expect(reciprocalRankAt(ranked, rel, 1)).toBe(0);
    expect(reciprocalRankAt(ranked, new Set(['d']), 10)).toBe(0.25);
    expect(reciprocalRankAt(['x', 'x', 'd'], new Set(['d']), 10)).toBe(0.5); // duplicate x counted once
    expect(reciprocalRankAt(ranked, none, 10)).toBe(0);
  });
});

describe('nDCG@k', () => {
  it('binary: DCG 1/log2(3)+1/log2(5) over IDCG 1+1/log2(3)+1/log2(4)', () => {
    expect(ndcgAt(ranked, rel, 5)).toBeCloseTo(0.498189257466, 10);
  });
  it('graded (linear gain): (2/log2 3 + 1/log2 5) / (3 + 2/log2 3 + 1/log2 4)', () => {
    expect(ndcgAt(ranked, graded, 5)).toBeCloseTo(0.355435951581, 10);
    // k = 2: DCG 2/log2 3, IDCG 3 + 2/log2 3 (only the top 2 ideal grades)
    expect(ndcgAt(ranked, graded, 2)).toBeCloseTo(0.296081910966, 10);
  });
  it('is 1 for an ideal ranking, whatever the order among equal grades (ties)', () => {
    const ties = new Map([
      ['x', 1],
      ['y', 1],
      ['w', 2],
    ]);
    expect(ndcgAt(['w', 'x', 'y'], ties, 10)).toBeCloseTo(1, 12);
    expect(ndcgAt(['w', 'y', 'x'], ties, 10)).toBeCloseTo(1, 12);
    expect(ndcgAt(['x', 'w', 'y'], ties, 10)).toBeLessThan(1);
  });
  it('is 0 with no relevant ids', () => {
    expect(ndcgAt(ranked, none, 10)).toBe(0);
    expect(ndcgAt(ranked, new Map([['a', 0]]), 10)).toBe(0);
  });
});

describe('MAP@k', () => {
  it('sums precision at each relevant rank within k, divided by all relevant', () => {
    expect(averagePrecisionAt(ranked, rel, 5)).toBeCloseTo((1 / 2 + 2 / 4) / 3, 12);
    expect(averagePrecisionAt(ranked, rel, 2)).toBeCloseTo(1 / 2 / 3, 12);
    expect(averagePrecisionAt(['b', 'd'], new Set(['b', 'd']), 10)).toBe(1);
    expect(averagePrecisionAt(ranked, none, 10)).toBe(0);
  });
});
