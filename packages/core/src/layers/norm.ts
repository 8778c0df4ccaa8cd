/** Normalisation layers with HF parameter names (`<name>.weight`, `<name>.bias`). */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params';

/** LayerNorm over the last axis: (x − mean) / √(var + eps) · weight + bias (biased variance, as PyTorch). */
export class LayerNorm {
  readonly weight: tf.Variable; // [dim]
  readonly bias: tf.Variable; // [dim]
  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    this.weight = store.create(`${name}.weight`, [dim], { init: { kind: 'ones' } });
    this.bias = store.create(`${name}.bias`, [dim], { init: { kind: 'zeros' } });
  }

  /**
   * One custom-gradient op: backprop keeps x (not the centred, squared and normalised copies) and
   * recomputes the statistics in the backward.
   */
  apply(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** (x − mean) / √(var + eps) and 1/√(var + eps) over the last axis. */
function normalise(x: tf.Tensor, eps: number): { xhat: tf.Tensor; rstd: tf.Tensor } {
  const mean = tf.mean(x, -1, true); // [..., 1]
  const centered = tf.sub(x, mean);
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps)); // [..., 1]
  return { xhat: tf.mul(centered, rstd), rstd };
}

/** LayerNorm with its gradient written out: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w. */
function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, w, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    (args[3] as tf.GradSaveFunc)([xi, w]);
    const value = tf.add(tf.mul(normalise(xi, eps).xhat, w), b);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sx, sw] = saved as [tf.Tensor, tf.Tensor];
      const { xhat, rstd } = normalise(sx, eps);
      const g = tf.mul(dy, sw);
      const dx = tf.mul(
        rstd,
        tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))),
      );
      const dim = sw.shape[0]!;
      const dw = tf.sum(tf.reshape(tf.mul(dy, xhat), [-1, dim]), 0);
      const db = tf.sum(tf.reshape(dy, [-1, dim]), 0);
      return [dx, dw, db];
    };
    return { value, gradFunc };
  });
  return op(x, weight, bias);
}

/** RMSNorm (Zhang & Sennrich, 2019): x / √(mean(x²) + eps) · weight, as in Llama. */
export class RMSNorm {
  readonly weight: tf.Variable; // [dim]
  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    this.weight = store.create(`${name}.weight`, [dim], { init: { kind: 'ones' } });
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const ms = tf.mean(tf.square(x), -1, true); // [..., 1]
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.eps))), this.weight);
    });
  }
}
