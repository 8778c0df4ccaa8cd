import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  clsPool,
  l2Normalize,
  lastTokenPool,
  maxPool,
  meanPool,
  meanSqrtLenPool,
  pool,
  weightedMeanPool,
} from '../src/pooling';

// hidden [2, 3, 2]; row 0 has 2 real tokens, row 1 has 3.
const HIDDEN = [
  [
    [1, -2],
    [3, 4],
    [100, 100],
  ], // the third token of row 0 is padding
  [
    [0, 1],
    [2, -5],
    [4, 3],
  ],
];
const MASK = [
  [1, 1, 0],
  [1, 1, 1],
];

describe('pooling', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const h = () => tf.tensor3d(HIDDEN);
  const m = () => tf.tensor2d(MASK, undefined, 'int32');

  it('mean pools over real tokens only', () => {
    // row 0: ([1,-2] + [3,4]) / 2 = [2, 1]; row 1: ([0,1] + [2,-5] + [4,3]) / 3 = [2, -1/3]
    const out = meanPool(h(), m()).arraySync() as number[][];
    expect(out[0]).toEqual([2, 1]);
    expect(out[1]![0]).toBeCloseTo(2, 6);
    expect(out[1]![1]).toBeCloseTo(-1 / 3, 6);
  });

  it('takes the first token for cls', () => {
    expect(clsPool(h()).arraySync()).toEqual([
      [1, -2],
      [0, 1],
    ]);
  });

  it('max pools over real tokens only (padding never wins)', () => {
    expect(maxPool(h(), m()).arraySync()).toEqual([
      [3, 4],
      [4, 3],
    ]);
  });

  it('dispatches by mode and rejects unknown modes', () => {
    expect(pool('max', h(), m()).arraySync()).toEqual([
      [3, 4],
      [4, 3],
    ]);
    expect(() => pool('sum' as never, h(), m())).toThrow(
      /unknown pooling mode "sum" \(valid: cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken\)/,
    );
  });

  // Expected values below are worked by hand from sentence-transformers' Pooling formulas.
  it('mean_sqrt_len_tokens divides the masked sum by √count', () => {
    // row 0: [4, 2] / √2; row 1: [6, -1] / √3
    const out = meanSqrtLenPool(h(), m()).arraySync() as number[][];
    [
      [4 / Math.SQRT2, 2 / Math.SQRT2],
      [6 / Math.sqrt(3), -1 / Math.sqrt(3)],
    ].forEach((row, i) => row.forEach((v, j) => expect(out[i]![j]).toBeCloseTo(v, 5)));
  });

  it('weightedmean weights token t by t + 1 over real tokens', () => {
    // row 0: (1·[1,-2] + 2·[3,4]) / 3 = [7/3, 2]; row 1: (1·[0,1] + 2·[2,-5] + 3·[4,3]) / 6 = [16/6, 0]
    const out = weightedMeanPool(h(), m()).arraySync() as number[][];
    [
      [7 / 3, 2],
      [16 / 6, 0],
    ].forEach((row, i) => row.forEach((v, j) => expect(out[i]![j]).toBeCloseTo(v, 5)));
  });

  it('lasttoken takes the last real token, and zeros for a row with none', () => {
    expect(lastTokenPool(h(), m()).arraySync()).toEqual([
      [3, 4],
      [4, 3],
    ]);
    expect(
      lastTokenPool(
        h(),
        tf.tensor2d(
          [
            [0, 0, 0],
            [1, 0, 0],
          ],
          undefined,
          'int32',
        ),
      ).arraySync(),
    ).toEqual([
      [0, 0],
      [0, 1],
    ]);
  });

  it('cls with a mask takes the first token whose mask is 1 (prompt left out), position 0 when none', () => {
    expect(
      clsPool(
        h(),
        tf.tensor2d(
          [
            [0, 1, 0],
            [0, 0, 0],
          ],
          undefined,
          'int32',
        ),
      ).arraySync(),
    ).toEqual([
      [3, 4],
      [0, 1],
    ]);
  });

  it('concatenates several modes in the order given', () => {
    expect(pool(['max', 'cls'], h(), m()).arraySync()).toEqual([
      [3, 4, 1, -2],
      [4, 3, 0, 1],
    ]);
    expect(pool(['cls', 'max'], h(), m()).arraySync()).toEqual([
      [1, -2, 3, 4],
      [0, 1, 4, 3],
    ]);
  });

  it('L2-normalises rows and leaves a zero row at zero', () => {
    const out = l2Normalize(
      tf.tensor2d([
        [3, 4],
        [0, 0],
      ]),
    ).arraySync() as number[][];
    expect(out[0]![0]).toBeCloseTo(0.6, 6);
    expect(out[0]![1]).toBeCloseTo(0.8, 6);
    expect(out[1]).toEqual([0, 0]);
  });

  it('leaks no tensors', () => {
    const hid = h();
    const mask = m();
    const before = tf.memory().numTensors;
    for (const mode of ['mean', 'cls', 'max', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'] as const) {
      const pooled = pool(mode, hid, mask);
      expect(tf.memory().numTensors).toBe(before + 1); // only the result survives
      const normed = l2Normalize(pooled);
      expect(tf.memory().numTensors).toBe(before + 2);
      tf.dispose([pooled, normed]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([hid, mask]);
  });
});
