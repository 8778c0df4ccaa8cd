/**
 * Audit on a real WebGPU adapter: forward and backward of every op a BERT/Llama training step uses, on
 * webgpu against the pure-JS cpu backend (as engine-ops.test.ts does for wasm). Reads are asynchronous:
 * webgpu under Node has no synchronous read. Skips, saying why, without the packages or an adapter
 * (see webgpu-adapter.ts for how one is found, and how to try packages installed outside the repo).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { initEngine } from '../src/engine/backend';
import { OPS, values, x0 } from './transformer-ops';
import { findAdapter, webgpuLoader as loader } from './webgpu-adapter';

const found = await findAdapter();
const skip = 'skip' in found ? found.skip : null;
if (skip) console.warn(`engine-webgpu-ops: skipped: ${skip}`);

describe.skipIf(skip != null)(
  `forward + backward of transformer ops: webgpu matches cpu${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const options = 'options' in found ? found.options : {};
    const run = (op: (x: tf.Tensor) => tf.Tensor) => () => {
      const x = x0();
      const y = op(x);
      const w = tf.tensor(values(y.size, 12), y.shape);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), w)))(x);
      return [y, dx];
    };
    const results = async (backend: 'cpu' | 'webgpu', op: (x: tf.Tensor) => tf.Tensor): Promise<number[][]> => {
      await initEngine({ backend, loader, webgpu: options });
      const out = tf.tidy(run(op));
      const arrays = await Promise.all(out.map(async (t) => Array.from(await t.data())));
      tf.dispose(out);
      return arrays;
    };

    it('runs on the adapter it reports, and says that synchronous reads are unavailable', async () => {
      const info = await initEngine({ backend: 'webgpu', loader, webgpu: options });
      expect(info.tfBackend).toBe('webgpu');
      expect(info.webgpu?.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(2 ** 27); // WebGPU's minimum limit
      console.info(`engine-webgpu-ops: adapter ${JSON.stringify(info.webgpu)}`);
      const t = tf.tensor1d([1, 2, 3]);
      const doubled = tf.mul(t, 2);
      expect(Array.from(await doubled.data())).toEqual([2, 4, 6]);
      // 1024 values are computed on the GPU (small inputs already on the CPU may be computed there).
      const onGpu = tf.add(tf.fill([1024], 1), 1);
      expect(() => onGpu.dataSync()).toThrow(/cannot read tensors synchronously .*use await data\(\)/);
      expect((await onGpu.data()).every((v) => v === 2)).toBe(true);
      expect(info.fixes).toEqual(expect.arrayContaining(['webgpu:cum-length-key', 'webgpu:transpose-types']));
      tf.dispose([t, doubled, onGpu]);
    });

    for (const [name, op] of Object.entries(OPS)) {
      it(name, async () => {
        const cpu = await results('cpu', op);
        const gpu = await results('webgpu', op);
        expect(gpu[1].length).toBe(24); // dx has x's shape
        expect(Math.max(...cpu[1].map(Math.abs))).toBeGreaterThan(0); // the gradient reaches x
        for (let i = 0; i < 2; i++) {
          const worst = Math.max(...gpu[i].map((v, j) => Math.abs(v - cpu[i][j])));
          expect(worst, `${i === 0 ? 'forward' : 'gradient'} max |webgpu - cpu|`).toBeLessThanOrEqual(1e-4);
        }
      });
    }

    it('keeps the tensor count flat over repeated training-style steps', async () => {
      await initEngine({ backend: 'webgpu', loader, webgpu: options });
      const w = tf.variable(tf.tensor2d(values(16, 3), [4, 4]));
      const opt = tf.train.adam(0.01);
      const step = () => opt.minimize(() => tf.mean(tf.square(tf.matMul(x0().reshape([6, 4]), w))), true) as tf.Scalar;
      const first = step();
      const before = await first.data();
      first.dispose();
      const count = tf.memory().numTensors;
      let last = 0;
      for (let i = 0; i < 20; i++) {
        const loss = step();
        last = (await loss.data())[0];
        loss.dispose();
      }
      expect(tf.memory().numTensors).toBe(count);
      expect(last).toBeLessThan(before[0] * 0.9); // 21 Adam steps lower the loss by more than 10%
      opt.dispose();
      w.dispose();
    });
  },
);
