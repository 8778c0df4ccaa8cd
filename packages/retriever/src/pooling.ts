/**
 * Pooling of token states into one vector per text, as sentence-transformers' `Pooling` module
 * does, and L2 normalisation as its `Normalize` module. All functions are pure and tidy.
 */
import * as tf from '@tensorflow/tfjs';

/** How token states become one vector: masked mean, the [CLS] state, or masked max. */
export type PoolingMode = 'mean' | 'cls' | 'max';

export const POOLING_MODES: readonly PoolingMode[] = ['mean', 'cls', 'max'];

/** Mean over real tokens: Σ_t h[t]·mask[t] / max(Σ_t mask[t], 1e-9). hidden [b, t, h], mask [b, t] -> [b, h]. */
export function meanPool(hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.expandDims(tf.cast(mask, 'float32'), -1); // [b, t, 1]
    const sum = tf.sum(tf.mul(hidden, m), 1); // [b, h]
    const count = tf.maximum(tf.sum(m, 1), 1e-9); // [b, 1]
    return tf.div(sum, count);
  });
}

/** The first token's state (BERT's [CLS]). hidden [b, t, h] -> [b, h]. */
export function clsPool(hidden: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, , h] = hidden.shape;
    return tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, h]), [b, h]);
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

/** Pools with `mode`; hidden [b, t, h], mask [b, t] -> [b, h]. */
export function pool(mode: PoolingMode, hidden: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  switch (mode) {
    case 'mean':
      return meanPool(hidden, mask);
    case 'cls':
      return clsPool(hidden);
    case 'max':
      return maxPool(hidden, mask);
    default:
      throw new Error(`unknown pooling mode "${mode as string}" (valid: ${POOLING_MODES.join(', ')})`);
  }
}

/** Row-wise L2 normalisation x / max(‖x‖₂, eps) (PyTorch's F.normalize). x [b, h] -> [b, h]. */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), -1, true)); // [b, 1]
    return tf.div(x, tf.maximum(norm, eps));
  });
}
