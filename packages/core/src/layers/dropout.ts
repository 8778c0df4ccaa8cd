import * as tf from '@tensorflow/tfjs';

/** Inverted dropout: zeroes a `rate` share of entries and scales the rest by 1/(1-rate); identity when not training. */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, seed);
}
