/**
 * Token log-likelihoods for causal LM training with a loss mask.
 *
 * logits  [B, T, V] predict the token at the NEXT position: logits[:, t] scores targets[:, t],
 *         where callers pass targets = inputIds shifted left by one.
 * targets [B, T] int32;  mask [B, T] in {0, 1}: 1 on tokens that count (answer tokens only when
 *         fine-tuning on retrieved context; the prompt and padding are 0).
 */
import * as tf from '@tensorflow/tfjs';

/** Per-sequence Σ_t mask·log p(target_t)  ->  [B]. Used by the RAG marginal. */
export function sequenceLogLikelihood(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const vocab = logits.shape[2];
    const logp = tf.logSoftmax(logits, -1); // [B, T, V]
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(targets, 'int32'), vocab)), -1); // [B, T]
    return tf.sum(tf.mul(picked, tf.cast(mask, 'float32')), -1) as tf.Tensor1D;
  });
}

/** Mean negative log-likelihood over the masked tokens of the whole batch (answer-only loss). */
export function maskedTokenNll(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const total = tf.sum(sequenceLogLikelihood(logits, targets, mask));
    const count = tf.maximum(tf.sum(tf.cast(mask, 'float32')), 1);
    return tf.neg(tf.div(total, count)) as tf.Scalar;
  });
}
