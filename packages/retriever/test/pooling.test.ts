import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { clsPool, l2Normalize, maxPool, meanPool, pool } from '../src/pooling';

// hidden [2, 3, 2]; row 0 has 2 real tokens, row 1 has 3.
const HIDDEN = [
  [[1, -2], [3, 4], [100, 100]], // the third token of row 0 is padding
  [[0, 1], [2, -5], [4, 3]],
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
    expect(clsPool(h()).arraySync()).toEqual([[1, -2], [0, 1]]);
  });

  it('max pools over real tokens only (padding never wins)', () => {
    expect(maxPool(h(), m()).arraySync()).toEqual([[3, 4], [4, 3]]);
  });

  it('dispatches by mode and rejects unknown modes', () => {
    expect(pool('max', h(), m()).arraySync()).toEqual([[3, 4], [4, 3]]);
    expect(() => pool('sum' as never, h(), m())).toThrow(/unknown pooling mode "sum" \(valid: mean, cls, max\)/);
  });

  it('L2-normalises rows and leaves a zero row at zero', () => {
    const out = l2Normalize(tf.tensor2d([[3, 4], [0, 0]])).arraySync() as number[][];
    expect(out[0]![0]).toBeCloseTo(0.6, 6);
    expect(out[0]![1]).toBeCloseTo(0.8, 6);
    expect(out[1]).toEqual([0, 0]);
  });

  it('leaks no tensors', () => {
    const hid = h();
    const mask = m();
    const before = tf.memory().numTensors;
    for (const mode of ['mean', 'cls', 'max'] as const) {
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
