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
 *
 * One custom-gradient op: backprop keeps q, k, v and the bias, not the quadratic [b, h, q, k] scores,
 * probabilities, dropout draws and masks (seven such tensors with tfjs' op-by-op tape); the backward
 * recomputes the probabilities (one more q·kᵀ) and redraws the dropout mask from its seed.
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions = {}): tf.Tensor {
  return tf.tidy(() => {
    const heads = q.shape[1] as number;
    const kvHeads = k.shape[1] as number;
    if (heads % kvHeads !== 0)
      throw new Error(`attention: ${heads} query heads is not a multiple of ${kvHeads} kv heads`);
    const groups = heads / kvHeads;
    const kr = repeatKv(k, groups);
    const vr = repeatKv(v, groups);
    const dim = q.shape[3] as number;
    const scale = opts.scale ?? 1 / Math.sqrt(dim);
    const rate = opts.training && opts.dropout && opts.dropout > 0 ? opts.dropout : 0;
    const seed = rate > 0 ? (opts.dropoutSeed ?? scopedDropoutSeed() ?? nextDropoutSeed()) : 0;
    return fusedAttention(scale, rate, seed, opts.bias ?? null)(q, kr, vr);
  });
}

/** [..., m, n] -> [..., n, m] (explicit: a transposed matMul operand is ~10x slower on wasm's stock kernel). */
const swapLast = (x: tf.Tensor): tf.Tensor => tf.transpose(x, [0, 1, 3, 2]);

/** Attention probabilities (after dropout when `rate` > 0) for scaled q. */
function probabilities(qs: tf.Tensor, k: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  let scores = tf.matMul(qs, swapLast(k)); // [b, h, q, k]
  if (bias) scores = tf.add(scores, bias);
  return tf.softmax(scores, -1);
}

function fusedAttention(
  scale: number,
  rate: number,
  seed: number,
  bias: tf.Tensor | null,
): (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [q, k, v, b] = args.slice(0, bias ? 4 : 3) as tf.Tensor[];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save(bias ? [q!, k!, v!, b!] : [q!, k!, v!]);
    const probs = probabilities(tf.mul(q!, scale), k!, b ?? null);
    const dropped = rate > 0 ? tf.dropout(probs, rate, undefined, seed) : probs;
    const value = tf.matMul(dropped, v!); // [b, h, q, dim]
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sq, sk, sv, sb] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const qs = tf.mul(sq, scale);
      const p = probabilities(qs, sk, sb ?? null);
      const pd = rate > 0 ? tf.dropout(p, rate, undefined, seed) : p; // same seed, same mask
      const dv = tf.matMul(swapLast(pd), dy);
      const dpd = tf.matMul(dy, swapLast(sv));
      const dp = rate > 0 ? tf.dropout(dpd, rate, undefined, seed) : dpd; // the mask's gradient is the mask
      const ds = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))); // softmax backward
      const dq = tf.mul(tf.matMul(ds, sk), scale);
      const dk = tf.matMul(swapLast(ds), qs);
      return sb ? [dq, dk, dv, tf.zerosLike(sb)] : [dq, dk, dv]; // the bias is a constant mask
    };
    return { value, gradFunc };
  });
  return (q, k, v) => (bias ? op(q, k, v, bias) : op(q, k, v));
}
