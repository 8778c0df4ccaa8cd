/** Normalisation layers with HF parameter names (`<name>.weight`, `<name>.bias`). */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from './params';

/** LayerNorm over the last axis: (x − mean) / √(var + eps) · weight + bias (biased variance, as PyTorch). */
export class LayerNorm {
  readonly weight: tf.Variable; // [dim]
  readonly bias: tf.Variable; // [dim]
  constructor(store: ParamStore, name: string, readonly dim: number, readonly eps = 1e-5) {
    this.weight = store.create(`${name}.weight`, [dim], { init: { kind: 'ones' } });
    this.bias = store.create(`${name}.bias`, [dim], { init: { kind: 'zeros' } });
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true); // [..., 1]
      const centered = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centered), -1, true); // [..., 1]
      const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, this.eps)));
      return tf.add(tf.mul(normed, this.weight), this.bias);
    });
  }
}

/** RMSNorm (Zhang & Sennrich, 2019): x / √(mean(x²) + eps) · weight, as in Llama. */
export class RMSNorm {
  readonly weight: tf.Variable; // [dim]
  constructor(store: ParamStore, name: string, readonly dim: number, readonly eps = 1e-6) {
    this.weight = store.create(`${name}.weight`, [dim], { init: { kind: 'ones' } });
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const ms = tf.mean(tf.square(x), -1, true); // [..., 1]
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.eps))), this.weight);
    });
  }
}
