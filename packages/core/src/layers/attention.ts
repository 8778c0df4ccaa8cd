/**
 * Scaled dot-product attention as pure functions, shared by the encoder and the decoder.
 * Masks are additive biases (0 = visible, MASKED = hidden) that broadcast against the
 * `[batch, heads, query, key]` score tensor. Grouped-query attention repeats each key/value
 * head for `heads / kvHeads` consecutive query heads (HF's `repeat_kv` / repeat_interleave).
 */
import * as tf from '@tensorflow/tfjs';
import { nextDropoutSeed, scopedDropoutSeed } from '../engine/checkpoint';

/** The additive bias of a hidden position (large and finite, so a fully masked row stays finite). */
export const MASKED = -1e9;

/** attentionMask [batch, keys] of 1 (attend) / 0 (padding) -> bias [batch, 1, 1, keys]. */
export function paddingBias(attentionMask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, s] = attentionMask.shape;
    const m = tf.cast(attentionMask, 'float32');
    return tf.reshape(tf.mul(tf.sub(1, m), MASKED), [b, 1, 1, s]);
  });
}

/**
 * Causal bias [1, 1, queries, keys]: query i sits at absolute position `offset + i` and sees keys
 * 0..offset+i. `offset` defaults to keys − queries (new queries appended after a KV cache).
 */
export function causalBias(queries: number, keys: number, offset = keys - queries): tf.Tensor {
  return tf.tidy(() => {
    const q = tf.reshape(tf.add(tf.range(0, queries, 1, 'int32'), offset), [queries, 1]);
    const k = tf.reshape(tf.range(0, keys, 1, 'int32'), [1, keys]);
    const hidden = tf.cast(tf.greater(k, q), 'float32'); // [queries, keys]
    return tf.reshape(tf.mul(hidden, MASKED), [1, 1, queries, keys]);
  });
}

/** [batch, seq, heads*dim] -> [batch, heads, seq, dim]. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, t, hd] = x.shape;
    return tf.transpose(tf.reshape(x, [b, t, heads, hd / heads]), [0, 2, 1, 3]);
  });
}

/** [batch, heads, seq, dim] -> [batch, seq, heads*dim]. */
export function mergeHeads(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, t, d] = x.shape;
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * d]);
  });
}

/**
 * [batch, kvHeads, seq, dim] -> [batch, kvHeads*groups, seq, dim], each kv head repeated `groups`
 * times in a row. Uses a rank-4 tile: tfjs 4.22 has no gradient for rank-5 tiles.
 */
export function repeatKv(x: tf.Tensor, groups: number): tf.Tensor {
  if (groups === 1) return x;
  return tf.tidy(() => {
    const [b, kv, s, d] = x.shape as number[];
    const tiled = tf.tile(tf.reshape(x, [b * kv, 1, s, d]), [1, groups, 1, 1]); // [b*kv, groups, s, d]
    return tf.reshape(tiled, [b, kv * groups, s, d]);
  });
}

export interface AttentionOptions {
  /** Additive bias broadcastable to [batch, heads, queries, keys]. */
  bias?: tf.Tensor | null;
  /** Dropout rate on the attention probabilities while training. */
  dropout?: number;
  training?: boolean;
  /** Seed of the attention dropout mask. Default: the enclosing `trainingBlock`'s next seed, else `nextDropoutSeed()`. */
  dropoutSeed?: number;
  /** Score scale; default 1/√dim. */
  scale?: number;
}

/**
 * softmax(q·kᵀ·scale + bias)·v.
 * q: [batch, heads, queries, dim]; k, v: [batch, kvHeads, keys, dim] with heads % kvHeads == 0.
 * Returns [batch, heads, queries, dim].
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions = {}): tf.Tensor {
  return tf.tidy(() => {
    const heads = q.shape[1] as number;
    const kvHeads = k.shape[1] as number;
    if (heads % kvHeads !== 0) throw new Error(`attention: ${heads} query heads is not a multiple of ${kvHeads} kv heads`);
    const groups = heads / kvHeads;
    const kr = repeatKv(k, groups);
    const vr = repeatKv(v, groups);
    const dim = q.shape[3] as number;
    const scale = opts.scale ?? 1 / Math.sqrt(dim);
    // Scale q (small) rather than the scores ([b, h, q, k]): one fewer quadratic tensor kept for backprop.
    // Explicit transpose: a transposed matMul operand is ~10x slower on the wasm backend.
    let scores = tf.matMul(tf.mul(q, scale), tf.transpose(kr, [0, 1, 3, 2])); // [b, h, q, k]
    if (opts.bias) scores = tf.add(scores, opts.bias);
    let probs = tf.softmax(scores, -1);
    if (opts.training && opts.dropout && opts.dropout > 0) probs = tf.dropout(probs, opts.dropout, undefined, opts.dropoutSeed ?? scopedDropoutSeed() ?? nextDropoutSeed());
    return tf.matMul(probs, vr); // [b, h, q, dim]
  });
}
