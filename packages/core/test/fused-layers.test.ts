/**
 * The custom-gradient LayerNorm and GELU (layers/norm.ts, layers/activations.ts) against their op-by-op
 * formulas differentiated by tfjs: outputs and gradients (of x, and of LayerNorm's weight and bias)
 * within 1e-5 on cpu and wasm, on a [2, 5, 16] input with non-trivial weight and bias.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/backend';
import { gelu } from '../src/layers/activations';
import { LayerNorm } from '../src/layers/norm';
import { ParamStore } from '../src/layers/params';

const TOL = 1e-5;
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;

describe('fused LayerNorm and GELU match their formulas and tfjs gradients', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: LayerNorm output, dx, dweight, dbias within ${TOL}`, async () => {
      await initEngine({ backend });
      const store = new ParamStore(3);
      const ln = new LayerNorm(store, 'ln', 16, 1e-12);
      ln.weight.assign(tf.randomNormal([16], 1, 0.3, 'float32', 5));
      ln.bias.assign(tf.randomNormal([16], 0, 0.3, 'float32', 6));
      const diffs = tf.tidy(() => {
        const x = tf.randomNormal([2, 5, 16], 0.5, 2, 'float32', 1);
        const w = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 2);
        const ref = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          const mean = tf.mean(xi, -1, true);
          const c = tf.sub(xi, mean);
          return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-12))), g), b);
        };
        const fused = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
          // the layer reads its own variables: give it these values
          ln.weight.assign(g);
          ln.bias.assign(b);
          return ln.apply(xi);
        };
        const g0 = ln.weight.clone();
        const b0 = ln.bias.clone();
        const loss = (f: typeof ref) => (a: tf.Tensor) => tf.sum(tf.mul(f(a, ln.weight, ln.bias), w)) as tf.Scalar;
        const refOut = ref(x, g0, b0);
        const refGrads = tf.variableGrads(() => loss(ref)(x), [ln.weight, ln.bias]).grads;
        const refDx = tf.grad((a: tf.Tensor) => loss(ref)(a))(x);
        const out = fused(x, g0, b0);
        const grads = tf.variableGrads(() => tf.sum(tf.mul(ln.apply(x), w)) as tf.Scalar, [ln.weight, ln.bias]).grads;
        const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(ln.apply(a), w)))(x);
        return [
          maxDiff(out, refOut),
          maxDiff(dx, refDx),
          maxDiff(grads[ln.weight.name]!, refGrads[ln.weight.name]!),
          maxDiff(grads[ln.bias.name]!, refGrads[ln.bias.name]!),
          maxDiff(refGrads[ln.weight.name]!, tf.zerosLike(refGrads[ln.weight.name]!)), // non-trivial
        ];
      });
      store.dispose();
      for (const d of diffs.slice(0, 4)) expect(d).toBeLessThanOrEqual(TOL);
      expect(diffs[4]).toBeGreaterThan(0.1);
    });

    it(`${backend}: GELU output and dx within ${TOL}`, async () => {
      await initEngine({ backend });
      const [d1, d2] = tf.tidy(() => {
        const x = tf.randomNormal([2, 5, 16], 0, 2, 'float32', 1);
        const w = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 2);
        const ref = (a: tf.Tensor) => tf.mul(tf.mul(a, 0.5), tf.add(1, tf.erf(tf.mul(a, Math.SQRT1_2))));
        const dRef = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(ref(a), w)))(x);
        const dFused = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(gelu(a), w)))(x);
        return [maxDiff(gelu(x), ref(x)), maxDiff(dFused, dRef)];
      });
      expect(d1).toBeLessThanOrEqual(TOL);
      expect(d2).toBeLessThanOrEqual(TOL);
    });
  }
});
