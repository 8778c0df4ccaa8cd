/**
 * RAG-sequence marginal likelihood (Lewis et al., 2020, "Retrieval-Augmented Generation").
 *
 *   loss = −mean_b log Σ_i p(d_i | q_b) · p(y_b | q_b, d_i)
 *   p(d_i | q) = softmax_i(s(q, d_i) / τ)          over the k retrieved passages
 *
 * retrievalScores  [B, K]: the query encoder's scores s(q, d_i) (e.g. cosine similarities)
 * answerLogLik     [B, K]: log p(y | q, d_i), summed over answer tokens (sequenceLogLikelihood)
 * temperature τ: scores are divided by τ before the softmax (scale = 1/τ).
 *
 * The gradient reaches the retriever through p(d_i | q) — passages under which the generator finds
 * the answer likely gain probability — and the generator through p(y | q, d_i), weighted by the
 * posterior of each passage. Optionally normalised by answer length (`answerTokens` [B]).
 */
import * as tf from '@tensorflow/tfjs';

export function ragSequenceLoss(
  retrievalScores: tf.Tensor2D,
  answerLogLik: tf.Tensor2D,
  temperature: number,
  answerTokens?: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => {
    const logPrior = tf.logSoftmax(tf.div(retrievalScores, temperature), -1); // [B, K]
    const joint = tf.add(logPrior, answerLogLik); // [B, K]
    let perQuery = tf.neg(tf.logSumExp(joint, -1)); // [B]
    if (answerTokens) perQuery = tf.div(perQuery, tf.maximum(answerTokens, 1));
    return tf.mean(perQuery) as tf.Scalar;
  });
}

/** Posterior p(d_i | q, y) ∝ p(d_i|q)·p(y|q,d_i)  [B, K]: which passages the generator found useful. */
export function ragPosterior(
  retrievalScores: tf.Tensor2D,
  answerLogLik: tf.Tensor2D,
  temperature: number,
): tf.Tensor2D {
  return tf.tidy(
    () => tf.softmax(tf.add(tf.logSoftmax(tf.div(retrievalScores, temperature), -1), answerLogLik), -1) as tf.Tensor2D,
  );
}
