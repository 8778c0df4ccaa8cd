/** Activation functions by their Hugging Face `hidden_act` names. */
import * as tf from '@tensorflow/tfjs';

/** GELU with the exact erf form: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)). HF `gelu`. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

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
