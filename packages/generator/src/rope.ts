/**
 * Rotary frequencies of a Llama-family decoder, with HF's `rope_scaling` variants, and the cos/sin
 * tables core's `applyRotary` consumes ("rotate_half" convention: the two halves of a head share
 * frequency i). inv_freq_i = θ^(−2i/d), then scaled:
 *
 *   linear:  inv_freq_i / factor
 *   llama3:  λ_i = 2π / inv_freq_i;  L = original_max_position_embeddings
 *            λ_i > L / low_freq_factor   → inv_freq_i / factor           (low frequencies)
 *            λ_i < L / high_freq_factor  → inv_freq_i                    (high frequencies)
 *            otherwise                  → (1 − s)·inv_freq_i/factor + s·inv_freq_i,
 *                                         s = (L/λ_i − low_freq_factor) / (high_freq_factor − low_freq_factor)
 *
 * (transformers' `_compute_linear_scaling_rope_parameters` / `_compute_llama3_parameters`; neither
 * rescales attention, so cos/sin are used as they are.)
 */
import * as tf from '@tensorflow/tfjs';
import type { RotaryTables } from '@dalm/core';
import type { RopeScaling } from './llama-config';

/** The (scaled) inverse frequencies of one head: [headDim / 2], computed in float32 as PyTorch does. */
export function ropeInvFreq(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (!scaling) return inv;
  if (scaling.rope_type === 'linear') return inv.map((f) => f / scaling.factor);
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: L } = scaling;
  const lowWavelen = L / low;
  const highWavelen = L / high;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowWavelen) return f / factor;
    if (wavelen < highWavelen) return f;
    const s = (L / wavelen - low) / (high - low);
    return ((1 - s) * f) / factor + s * f;
  });
}

/** positions: int32 [batch, seq] -> cos/sin tables [batch, 1, seq, headDim] for `invFreq` ([headDim / 2]). */
export function ropeTables(positions: tf.Tensor, invFreq: Float32Array): RotaryTables {
  return tf.tidy(() => {
    const [b, t] = positions.shape;
    const dim = invFreq.length * 2;
    const pos = tf.reshape(tf.cast(positions, 'float32'), [b, t, 1]);
    const freqs = tf.mul(pos, tf.tensor1d(invFreq)); // [b, t, half]
    const emb = tf.concat([freqs, freqs], -1); // [b, t, dim]
    return { cos: tf.reshape(tf.cos(emb), [b, 1, t, dim]), sin: tf.reshape(tf.sin(emb), [b, 1, t, dim]) };
  });
}
