import * as tf from '@tensorflow/tfjs';
import { nextDropoutSeed, scopedDropoutSeed } from '../engine/checkpoint';

/**
 * Inverted dropout: zeroes a `rate` share of entries and scales the rest by 1/(1-rate); identity when
 * not training. Without `seed`, the mask is seeded from the enclosing `trainingBlock`, else from `nextDropoutSeed()`
 * (so training is reproducible after `resetDropoutSeeds`).
 */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, seed ?? scopedDropoutSeed() ?? nextDropoutSeed());
}
