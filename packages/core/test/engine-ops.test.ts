/**
 * Audit: forward and backward of every op a BERT/Llama training step uses, on wasm (with the engine's
 * fixes) against the pure-JS cpu backend. Each case returns the op's output and d(sum(out * w))/dx.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { initEngine } from '../src/engine/backend';
import { OPS, values, x0 } from './transformer-ops';

describe('forward + backward of transformer ops: wasm matches cpu', () => {
  const run = (op: (x: tf.Tensor) => tf.Tensor) => () => {
    const x = x0();
    const y = op(x);
    const w = tf.tensor(values(y.size, 12), y.shape);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), w)))(x);
    return [y, dx];
  };
  const results = async (backend: 'cpu' | 'wasm', op: (x: tf.Tensor) => tf.Tensor): Promise<number[][]> => {
    await initEngine({ backend });
    const out = tf.tidy(run(op));
    const arrays = out.map((t) => Array.from(t.dataSync()));
    tf.dispose(out);
    return arrays;
  };

  for (const [name, op] of Object.entries(OPS)) {
    it(name, async () => {
      const cpu = await results('cpu', op);
      const wasm = await results('wasm', op);
      expect(wasm[1].length).toBe(24); // dx has x's shape
      expect(Math.max(...cpu[1].map(Math.abs))).toBeGreaterThan(0); // the gradient reaches x
      for (let i = 0; i < 2; i++) {
        const worst = Math.max(...wasm[i].map((v, j) => Math.abs(v - cpu[i][j])));
        expect(worst, `${i === 0 ? 'forward' : 'gradient'} max |wasm - cpu|`).toBeLessThanOrEqual(1e-4);
      }
    });
  }
});
