/** Activation functions by their Hugging Face `hidden_act` names. */
import * as tf from '@tensorflow/tfjs';

/**
 * GELU with the exact erf form: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)). HF `gelu`. One custom-gradient
 * op: backprop keeps x only (not the four intermediates), dy/dx = Φ(x) + x·φ(x).
 */
export const gelu: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  const value = tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
    const sx = saved[0]!;
    const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(sx, Math.SQRT1_2))));
    const pdf = tf.mul(1 / Math.sqrt(2 * Math.PI), tf.exp(tf.mul(tf.square(sx), -0.5)));
    return tf.mul(dy, tf.add(cdf, tf.mul(sx, pdf)));
  };
  return { value, gradFunc };
}) as (x: tf.Tensor) => tf.Tensor;

/** GELU, tanh approximation: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))). HF `gelu_new` / `gelu_pytorch_tanh`. */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

/** SiLU (swish): x · σ(x). HF `silu`. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

export type ActivationName = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'silu' | 'relu';

/** Looks up an activation by its HF config name; throws naming the valid values. */
export function activation(name: string): (x: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'gelu':
      return gelu;
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return geluTanh;
    case 'silu':
    case 'swish':
      return silu;
    case 'relu':
      return (x) => tf.relu(x);
    default:
      throw new Error(`unknown activation "${name}" (valid: gelu, gelu_new, gelu_pytorch_tanh, silu, relu)`);
  }
}
