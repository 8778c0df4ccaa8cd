/**
 * The custom-gradient attention (layers/attention.ts) against the op-by-op formula it replaces,
 * softmax(q·kᵀ·scale + bias)·v with tfjs' own gradients: outputs and the gradients of q, k, v within
 * 1e-5 on cpu and wasm; with grouped-query heads, a padding bias, a causal bias, and with attention
 * dropout (p = 0.3, the reference drawing its mask from the same seed), where the test also checks that
 * the mask really zeroes ~30% of the probabilities (the comparison would be vacuous otherwise).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initEngine } from '../src/engine/backend';
import { attention, causalBias, paddingBias, repeatKv } from '../src/layers/attention';

const TOL = 1e-5;

/** The unfused formula, differentiated by tfjs op by op. */
function reference(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  bias: tf.Tensor | null,
  rate: number,
  seed: number,
): tf.Tensor {
  const groups = (q.shape[1] as number) / (k.shape[1] as number);
  const kr = repeatKv(k, groups);
  const vr = repeatKv(v, groups);
  let s = tf.matMul(tf.mul(q, 1 / Math.sqrt(q.shape[3] as number)), kr, false, true);
  if (bias) s = tf.add(s, bias);
  let p = tf.softmax(s, -1);
  if (rate > 0) p = tf.dropout(p, rate, undefined, seed);
  return tf.matMul(p, vr);
}

function run(kvHeads: number, biasKind: 'none' | 'padding' | 'causal', rate: number): number[] {
  return tf.tidy(() => {
    const [b, h, t, d] = [2, 4, 6, 8];
    const q = tf.randomNormal([b, h, t, d], 0, 1, 'float32', 1);
    const k = tf.randomNormal([b, kvHeads, t, d], 0, 1, 'float32', 2);
    const v = tf.randomNormal([b, kvHeads, t, d], 0, 1, 'float32', 3);
    const w = tf.randomNormal([b, h, t, d], 0, 1, 'float32', 4);
    const bias =
      biasKind === 'padding'
        ? paddingBias(
            tf.tensor2d(
              [
                [1, 1, 1, 1, 1, 1],
                [1, 1, 1, 1, 0, 0],
              ],
              undefined,
              'int32',
            ),
          )
        : biasKind === 'causal'
          ? causalBias(t, t)
          : null;
    const seed = 77;
    const loss =
      (f: (a: tf.Tensor, b2: tf.Tensor, c: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b2: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(f(a, b2, c), w));
    const fused = (a: tf.Tensor, b2: tf.Tensor, c: tf.Tensor) =>
      attention(a, b2, c, { bias, dropout: rate, training: true, dropoutSeed: seed });
    const ref = (a: tf.Tensor, b2: tf.Tensor, c: tf.Tensor) => reference(a, b2, c, bias, rate, seed);
    const outs = [fused(q, k, v), ...tf.grads(loss(fused))([q, k, v])];
    const refs = [ref(q, k, v), ...tf.grads(loss(ref))([q, k, v])];
    return outs.map((o, i) => tf.max(tf.abs(tf.sub(o, refs[i]!))).dataSync()[0]!);
  });
}

describe('fused attention matches the op-by-op formula and its tfjs gradients', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const [kvHeads, biasKind, rate] of [
      [4, 'none', 0],
      [4, 'padding', 0],
      [2, 'causal', 0],
      [4, 'padding', 0.3],
    ] as const) {
      it(`${backend}: kvHeads ${kvHeads}, ${biasKind} bias, dropout ${rate}: output and dq, dk, dv within ${TOL}`, async () => {
        await initEngine({ backend });
        const diffs = run(kvHeads, biasKind, rate);
        expect(diffs).toHaveLength(4);
        for (const d of diffs) expect(d).toBeLessThanOrEqual(TOL);
      });
    }
  }

  it('the dropout mask it replays is a real one (~30% of probabilities zeroed at p = 0.3)', async () => {
    await initEngine({ backend: 'wasm' });
    const zeroed = tf.tidy(() => {
      const p = tf.dropout(tf.ones([4, 4, 32, 32]), 0.3, undefined, 77);
      return tf.mean(tf.cast(tf.equal(p, 0), 'float32')).dataSync()[0]!;
    });
    expect(zeroed).toBeGreaterThan(0.25);
    expect(zeroed).toBeLessThan(0.35);
  });
});
