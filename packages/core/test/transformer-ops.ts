/**
 * The ops a BERT/Llama training step uses, each as a function of one input `x` [2, 3, 4], for the
 * backend-parity audits (engine-ops.test.ts: wasm vs cpu; engine-webgpu-ops.test.ts: webgpu vs cpu).
 */
import * as tf from '@tensorflow/tfjs';

/** Deterministic values in [-1, 1). */
export function values(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
export const X_SHAPE = [2, 3, 4];
export const x0 = () => tf.tensor(values(24, 11), X_SHAPE); // [2, 3, 4]
const pos = (x: tf.Tensor) => tf.add(tf.abs(x), 0.5); // keeps log/sqrt/rsqrt/div away from 0

/** op: x [2, 3, 4] -> any float tensor. */
export const OPS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  gather: (x) => tf.gather(x, tf.tensor1d([2, 0, 2, 1], 'int32'), 1),
  'matMul rank 2': (x) => tf.matMul(tf.reshape(x, [6, 4]), tf.reshape(x, [6, 4]), true, false),
  'matMul rank 3': (x) => tf.matMul(x, x, false, true),
  'matMul rank 4': (x) => tf.matMul(tf.reshape(x, [2, 1, 3, 4]), tf.reshape(x, [2, 1, 3, 4]), true, false),
  'fused matMul (transposeB, bias, relu)': (x) =>
    tf.fused.matMul({
      a: tf.reshape(x, [6, 4]),
      b: tf.reshape(x, [6, 4]),
      transposeB: true,
      bias: tf.range(0, 6),
      activation: 'relu',
    }),
  softmax: (x) => tf.softmax(x),
  logSoftmax: (x) => tf.logSoftmax(x),
  'erf (GELU)': (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  exp: (x) => tf.exp(x),
  log: (x) => tf.log(pos(x)),
  sqrt: (x) => tf.sqrt(pos(x)),
  rsqrt: (x) => tf.rsqrt(pos(x)),
  mean: (x) => tf.mean(x, -1, true),
  sum: (x) => tf.sum(x, [0, 2]),
  max: (x) => tf.max(x, 1),
  square: (x) => tf.square(x),
  'sub/mul/div broadcast': (x) =>
    tf.div(tf.mul(tf.sub(x, tf.mean(x, 0)), tf.slice(x, [0, 0, 0], [1, 3, 1])), pos(tf.sum(x, -1, true))),
  'reshape + transpose': (x) => tf.transpose(tf.reshape(x, [2, 3, 2, 2]), [0, 2, 1, 3]),
  concat: (x) => tf.concat([x, tf.mul(x, 2)], -1),
  slice: (x) => tf.slice(x, [0, 1, 1], [2, 2, 3]),
  stridedSlice: (x) => tf.stridedSlice(x, [0, 0, 3], [2, 3, 0], [1, 2, -2]),
  split: (x) => {
    const [a, b] = tf.split(x, 2, -1);
    return tf.mul(a, b);
  },
  tile: (x) => tf.tile(x, [1, 2, 1]),
  'where/select': (x) => tf.where(tf.greater(x, 0), x, tf.mul(x, 0.1)),
  maximum: (x) => tf.maximum(x, 0.1),
  oneHot: (x) =>
    tf.mul(
      tf.oneHot(
        tf.tensor2d(
          [
            [0, 3, 1],
            [2, 2, 0],
          ],
          [2, 3],
          'int32',
        ),
        4,
      ),
      x,
    ),
  cumsum: (x) => tf.cumsum(x, 1),
  'cumsum reverse': (x) => tf.cumsum(x, 2, false, true),
  cast: (x) => tf.cast(tf.mul(x, 3), 'float32'),
  pad: (x) =>
    tf.pad(x, [
      [0, 0],
      [1, 0],
      [0, 2],
    ]),
  clipByValue: (x) => tf.clipByValue(x, -0.3, 0.4),
  'greater/less masks': (x) => tf.mul(x, tf.cast(tf.logicalAnd(tf.greater(x, -0.5), tf.less(x, 0.5)), 'float32')),
  'sin/cos (RoPE)': (x) => tf.add(tf.mul(x, tf.cos(tf.mul(x, 0.7))), tf.mul(tf.reverse(x, -1), tf.sin(tf.mul(x, 0.7)))),
  'causal mask (bandPart)': (x) => tf.mul(x, tf.linalg.bandPart(tf.ones([3, 4]), -1, 0)),
};
