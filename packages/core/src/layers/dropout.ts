import * as tf from '@tensorflow/tfjs';
import { mixSeed } from '../rng';

/**
 * The dropout mask stream. tfjs draws an unseeded mask from Math.random, so two identical training
 * runs would differ; the training loop seeds this stream once per micro-batch from the run's seed
 * (`seedDropout(mixSeed(seed, step))`), which makes masks — and so the trained weights — a function
 * of the run's seed and step, also across a resume. Outside training it is unset.
 */
let stream: { base: number; next: number } | null = null;

/** Seeds (or, with null, unseeds) the dropout masks drawn from now on. */
export function seedDropout(seed: number | null): void {
  stream = seed === null ? null : { base: seed >>> 0, next: 0 };
}

/** Seed for the next dropout mask (undefined when the stream is unseeded). Never 0, which tfjs reads as "no seed". */
export function nextDropoutSeed(): number | undefined {
  if (!stream) return undefined;
  return mixSeed(stream.base, stream.next++) || 1;
}

/** Inverted dropout: zeroes a `rate` share of entries and scales the rest by 1/(1-rate); identity when not training. */
export function dropout(x: tf.Tensor, rate: number, training: boolean, seed?: number): tf.Tensor {
  if (!training || rate <= 0) return x;
  return tf.dropout(x, rate, undefined, seed ?? nextDropoutSeed());
}
