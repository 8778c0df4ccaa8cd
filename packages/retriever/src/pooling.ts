/**
 * Pooling of token states into one vector per text, as sentence-transformers' `Pooling` module
 * does (every mode it defines, with its formulas), and L2 normalisation as its `Normalize` module.
 * All functions are pure and tidy. `mask` is the pooling mask: the attention mask, with prompt
 * tokens zeroed when the Pooling module says `include_prompt: false` (see Encoder).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * How token states become one vector (sentence-transformers' names): the first token's state
 * (`cls`), the masked mean (`mean`), the masked element-wise max (`max`), the masked sum over
 * √(token count) (`mean_sqrt_len_tokens`), the position-weighted mean with weights 1…T
 * (`weightedmean`, SGPT) or the last real token's state (`lasttoken`).
 */
export type PoolingMode = 'cls' | 'mean' | 'max' | 'mean_sqrt_len_tokens' | 'weightedmean' | 'lasttoken';

/** Every mode, in the order sentence-transformers' legacy `pooling_mode_*` flags concatenate them. */
export const POOLING_MODES: readonly PoolingMode[] = Object.freeze([
  'cls',
  'max',
  'mean',
  'mean_sqrt_len_tokens',
  'weightedmean',
  'lasttoken',
]);

/** One mode, or several whose vectors are concatenated in the order given (as sentence-transformers 6.x `pooling_mode`). */
export type Pooling = PoolingMode | readonly PoolingMode[];

/** The modes of a pooling, in concatenation order. */
export function poolingModes(pooling: Pooling): PoolingMode[] {
  return typeof pooling === 'string' ? [pooling] : [...pooling];
}

/** Masked sum and token count: Σ_t h[t]·mask[t] [b, h] and max(Σ_t mask[t], 1e-9) [b, 1]. */
function maskedSum(hidden: tf.Tensor, mask: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const m = tf.expandDims(tf.cast(mask, 'float32'), -1); // [b, t, 1]
  return [tf.sum(tf.mul(hidden, m), 1), tf.maximum(tf.sum(m, 1), 1e-9)];
}

/** Mean over real tokens: Σ_t h[t]·mask[t] / max(Σ_t mask[t], 1e-9). hidden [b, t, h], mask [b, t] -> [b, h]. */
export function meanPool(hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [sum, count] = maskedSum(hidden, mask);
    return tf.div(sum, count);
  });
}

/** Σ_t h[t]·mask[t] / √max(Σ_t mask[t], 1e-9) (`pooling_mode_mean_sqrt_len_tokens`). hidden [b, t, h], mask [b, t] -> [b, h]. */
export function meanSqrtLenPool(hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [sum, count] = maskedSum(hidden, mask);
    return tf.div(sum, tf.sqrt(count));
  });
}

/**
 * Position-weighted mean (`pooling_mode_weightedmean_tokens`, Muennighoff 2022, SGPT): weights
 * w[t] = (t + 1)·mask[t], Σ_t h[t]·w[t] / max(Σ_t w[t], 1e-9). hidden [b, t, h], mask [b, t] -> [b, h].
 */
export function weightedMeanPool(hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const seq = hidden.shape[1]!;
    const w = tf.mul(tf.cast(mask, 'float32'), tf.range(1, seq + 1, 1, 'float32')); // [b, t]
    const [sum, total] = maskedSum(hidden, w);
    return tf.div(sum, total);
  });
}

/**
 * The [CLS] state: the first token's, or with `mask` the first token whose mask is 1 (as
 * sentence-transformers 6.x, which with `include_prompt: false` takes the first token after the
 * prompt; position 0 when no token has mask 1). hidden [b, t, h], mask [b, t] -> [b, h].
 */
export function clsPool(hidden: tf.Tensor, mask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, seq, h] = hidden.shape as [number, number, number];
    if (!mask) return tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, h]), [b, h]);
    const first = tf.expandDims(tf.argMax(tf.cast(tf.greater(mask, 0), 'int32'), 1), 1); // [b, 1]: first index with mask 1, 0 if none
    // One-hot by comparison: tfjs-wasm's oneHot with a float dtype writes integer bit patterns.
    const pick = tf.cast(tf.equal(tf.range(0, seq, 1, 'int32'), tf.cast(first, 'int32')), 'float32'); // [b, t]
    return tf.sum(tf.mul(hidden, tf.expandDims(pick, -1)), 1);
  });
}

/** Element-wise max over real tokens (padding set to −1e9 first, as sentence-transformers). hidden [b, t, h], mask [b, t] -> [b, h]. */
export function maxPool(hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.expandDims(tf.cast(mask, 'float32'), -1); // [b, t, 1]
    const masked = tf.add(tf.mul(hidden, m), tf.mul(tf.sub(1, m), -1e9)); // [b, t, h]
    return tf.max(masked, 1);
  });
}

/**
 * The state of the last token whose mask is 1 (`pooling_mode_lasttoken`); a row with no such
 * token gives zeros, as sentence-transformers (it gathers position 0 times its zero mask).
 * hidden [b, t, h], mask [b, t] -> [b, h].
 */
export function lastTokenPool(hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const seq = hidden.shape[1]!;
    const m = tf.cast(tf.greater(mask, 0), 'int32'); // [b, t]
    const last = tf.max(tf.mul(m, tf.range(0, seq, 1, 'int32')), 1, true); // [b, 1]: last index with mask 1 (0 if none)
    const pick = tf.mul(tf.cast(tf.equal(tf.range(0, seq, 1, 'int32'), last), 'float32'), tf.cast(m, 'float32')); // [b, t] one-hot
    return tf.sum(tf.mul(hidden, tf.expandDims(pick, -1)), 1);
  });
}

function poolOne(mode: PoolingMode, hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  switch (mode) {
    case 'mean':
      return meanPool(hidden, mask);
    case 'cls':
      return clsPool(hidden, mask);
    case 'max':
      return maxPool(hidden, mask);
    case 'mean_sqrt_len_tokens':
      return meanSqrtLenPool(hidden, mask);
    case 'weightedmean':
      return weightedMeanPool(hidden, mask);
    case 'lasttoken':
      return lastTokenPool(hidden, mask);
    default:
      throw new Error(`unknown pooling mode "${mode as string}" (valid: ${POOLING_MODES.join(', ')})`);
  }
}

/**
 * Pools with one mode, or with several concatenated in the order given (as sentence-transformers).
 * hidden [b, t, h], mask [b, t] -> [b, h · number of modes].
 */
export function pool(pooling: Pooling, hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const given = typeof pooling === 'string' ? [pooling] : pooling;
  const unknown = given.find((m) => !POOLING_MODES.includes(m));
  if (unknown !== undefined)
    throw new Error(`unknown pooling mode "${unknown as string}" (valid: ${POOLING_MODES.join(', ')})`);
  const modes = poolingModes(pooling);
  if (modes.length === 0) throw new Error(`pool: no pooling mode given (valid: ${POOLING_MODES.join(', ')})`);
  if (modes.length === 1) return poolOne(modes[0]!, hidden, mask);
  return tf.tidy(() =>
    tf.concat(
      modes.map((m) => poolOne(m, hidden, mask)),
      1,
    ),
  );
}

/** Row-wise L2 normalisation x / max(‖x‖₂, eps) (PyTorch's F.normalize). x [b, h] -> [b, h]. */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), -1, true)); // [b, 1]
    return tf.div(x, tf.maximum(norm, eps));
  });
}
