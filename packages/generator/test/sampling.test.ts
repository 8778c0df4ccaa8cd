import { describe, it, expect } from 'vitest';
import { Rng } from '@dalm/core';
import {
  argmax,
  softmax,
  applyRepetitionPenalty,
  applyTemperature,
  topKFilter,
  topPFilter,
  sampleIndex,
  nextToken,
} from '../src/sampling';

const close = (a: ArrayLike<number>, b: number[], tol = 1e-6) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    if (b[i] === -Infinity) expect(a[i]).toBe(-Infinity);
    else expect(Math.abs(a[i] - b[i])).toBeLessThan(tol);
  }
};

describe('argmax / softmax', () => {
  it('argmax returns the first of tied maxima', () => {
    expect(argmax([0.5, 2, -1, 2])).toBe(1);
    expect(argmax([-3])).toBe(0);
  });
  it('softmax of [0, ln 3] is [1/4, 3/4] and ignores -Infinity', () => {
    close(softmax([0, Math.log(3), -Infinity]), [0.25, 0.75, 0]);
  });
});

describe('repetition penalty (HF semantics)', () => {
  it('divides positive and multiplies negative logits of seen ids, once per id', () => {
    const out = applyRepetitionPenalty([2, -1, 0.5, 3, -4], [0, 1, 1, 4], 2);
    // id 0: 2/2 = 1; id 1: -1*2 = -2; id 4: -4*2 = -8; ids 2, 3 unseen.
    close(out, [1, -2, 0.5, 3, -8]);
  });
  it('penalty 1 is the identity, and the input is not modified', () => {
    const logits = new Float32Array([1, -1]);
    close(applyRepetitionPenalty(logits, [0, 1], 1), [1, -1]);
    applyRepetitionPenalty(logits, [0], 3);
    close(logits, [1, -1]);
  });
  it('can change the greedy choice', () => {
    // logits [3, 2.5]: seen id 0 becomes 3/1.5 = 2 < 2.5.
    expect(nextToken([3, 2.5], [0], { repetitionPenalty: 1.5 }, new Rng(0))).toBe(1);
    expect(nextToken([3, 2.5], [0], {}, new Rng(0))).toBe(0);
  });
});

describe('temperature, top-k, top-p', () => {
  it('temperature divides the logits', () => {
    close(applyTemperature([1, -2, 4], 0.5), [2, -4, 8]);
    expect(() => applyTemperature([1], 0)).toThrow(/temperature/);
  });

  it('top-k keeps the k largest (and ties with the k-th)', () => {
    close(topKFilter([1, 5, 3, 4, 3], 2), [-Infinity, 5, -Infinity, 4, -Infinity]);
    close(topKFilter([1, 5, 3, 4, 3], 3), [-Infinity, 5, 3, 4, 3]);
    close(topKFilter([1, 2], 0), [1, 2]);
  });

  it('top-p keeps the smallest prefix whose mass reaches p, the crossing token included', () => {
    // probs = [0.5, 0.3, 0.15, 0.05] (logits = ln probs, order shuffled).
    const logits = [Math.log(0.15), Math.log(0.5), Math.log(0.05), Math.log(0.3)];
    // p = 0.7: 0.5 < 0.7 -> keep 0.3 (mass above 0.5); mass above 0.15 is 0.8 >= 0.7 -> cut.
    close(topPFilter(logits, 0.7), [-Infinity, Math.log(0.5), -Infinity, Math.log(0.3)]);
    // p = 0.8: mass above 0.15 is 0.8 >= 0.8 -> cut (HF removes cumulative ascending mass <= 1 - p).
    close(topPFilter(logits, 0.8), [-Infinity, Math.log(0.5), -Infinity, Math.log(0.3)]);
    // p = 0.81: 0.15 kept; mass above 0.05 is 0.95 -> cut.
    close(topPFilter(logits, 0.81), [Math.log(0.15), Math.log(0.5), -Infinity, Math.log(0.3)]);
    // p = 0.4: only the top token.
    close(topPFilter(logits, 0.4), [-Infinity, Math.log(0.5), -Infinity, -Infinity]);
    close(topPFilter(logits, 1), logits);
  });
});

describe('drawing', () => {
  it('sampleIndex inverts the CDF', () => {
    const probs = [0.2, 0, 0.5, 0.3];
    expect(sampleIndex(probs, 0)).toBe(0);
    expect(sampleIndex(probs, 0.19)).toBe(0);
    expect(sampleIndex(probs, 0.2)).toBe(2);
    expect(sampleIndex(probs, 0.69)).toBe(2);
    expect(sampleIndex(probs, 0.7)).toBe(3);
    expect(sampleIndex(probs, 0.9999999)).toBe(3);
  });

  it('temperature 0 is argmax; top-k 1 equals argmax whatever the draw', () => {
    const logits = [0.1, 2, 1.9, -1];
    expect(nextToken(logits, [], { temperature: 0 }, new Rng(1))).toBe(1);
    const rng = new Rng(5);
    for (let i = 0; i < 20; i++) expect(nextToken(logits, [], { temperature: 1.5, topK: 1 }, rng)).toBe(1);
  });

  it('the same seed draws the same tokens, and frequencies follow softmax', () => {
    const logits = [Math.log(0.6), Math.log(0.3), Math.log(0.1)];
    const draw = (seed: number, n: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: n }, () => nextToken(logits, [], { temperature: 1 }, rng));
    };
    expect(draw(11, 50)).toEqual(draw(11, 50));
    expect(draw(11, 50)).not.toEqual(draw(12, 50));
    const counts = [0, 0, 0];
    for (const t of draw(3, 20000)) counts[t]++;
    // Binomial std for p=0.3 over 20000 draws is ~0.0032; allow 4 sigma.
    expect(Math.abs(counts[0] / 20000 - 0.6)).toBeLessThan(0.014);
    expect(Math.abs(counts[1] / 20000 - 0.3)).toBeLessThan(0.013);
    expect(Math.abs(counts[2] / 20000 - 0.1)).toBeLessThan(0.009);
  });

  it('top-p 0.5 with temperature never draws outside the nucleus', () => {
    const logits = [Math.log(0.45), Math.log(0.35), Math.log(0.2)];
    const rng = new Rng(9);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(nextToken(logits, [], { temperature: 1, topP: 0.5 }, rng));
    expect([...seen].sort()).toEqual([0, 1]);
  });
});
