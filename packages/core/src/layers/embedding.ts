/** Token / position embedding table with the HF name `<name>.weight`, shape [num, dim]. */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore, Init } from './params';

export class Embedding {
  readonly weight: tf.Variable; // [num, dim]
  constructor(
    store: ParamStore,
    name: string,
    readonly num: number,
    readonly dim: number,
    init?: Init,
  ) {
    this.weight = store.create(`${name}.weight`, [num, dim], { init });
  }

  /** ids: int32 [...] -> [..., dim]. */
  apply(ids: tf.Tensor): tf.Tensor {
    return tf.gather(this.weight, ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32'));
  }

  /** Tied output projection: x [..., dim] -> logits [..., num] = x · weightᵀ. */
  project(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.dim]); // [n, dim]
      const logits = tf.matMul(x2, tf.transpose(this.weight)); // [n, num]
      return tf.reshape(logits, [...lead, this.num]);
    });
  }
}
