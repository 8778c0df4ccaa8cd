/**
 * InfoNCE / multiple-negatives ranking loss (van den Oord et al., 2018; Henderson et al., 2017;
 * sentence-transformers' MultipleNegativesRankingLoss; DPR, Karpukhin et al., 2020).
 *
 * queries  q: [B, D]           (row i is the i-th query)
 * passages p: [B + N, D]       (rows 0..B-1 are the positives, row i for query i; the N extra rows
 *                               are hard negatives shared by the whole batch)
 * logits = scale · q·pᵀ         [B, B + N], scale = 1/τ (τ = temperature)
 * loss   = mean_i −log softmax(logits_i)[i]
 *
 * Negatives of query i: every other query's positive (in-batch negatives) and all hard negatives.
 * With `symmetric`, the passage→query direction is added (positives only):
 *   loss = ½·(loss_q→p + mean_i −log softmax(scale · p_i·qᵀ)[i]).
 * `exclude` [B, B + N] (1 = not a negative for that query) removes known false negatives, e.g.
 * another query's positive that is also relevant to this one (COVID-QA questions share passages).
 * Embeddings should be L2-normalised when the scores are meant as cosine similarities.
 */
import * as tf from '@tensorflow/tfjs';

export interface InfoNceOptions {
  /** 1/τ. sentence-transformers uses 20 (τ = 0.05). */
  scale: number;
  /** Add the passage→query term. */
  symmetric: boolean;
}

export const DEFAULT_INFO_NCE: Readonly<InfoNceOptions> = Object.freeze({ scale: 20, symmetric: false });

export function infoNceLoss(
  q: tf.Tensor2D,
  p: tf.Tensor2D,
  opts: InfoNceOptions = DEFAULT_INFO_NCE,
  exclude?: tf.Tensor2D,
): tf.Scalar {
  return tf.tidy(() => {
    const b = q.shape[0];
    if (p.shape[0] < b)
      throw new Error(`infoNceLoss: ${p.shape[0]} passages for ${b} queries (need at least one positive each)`);
    let logits = tf.mul(tf.matMul(q, tf.transpose(p)), opts.scale); // [B, B+N]
    if (exclude) logits = tf.add(logits, tf.mul(exclude, -1e4));
    const labels = tf.oneHot(tf.range(0, b, 1, 'int32'), p.shape[0]); // [B, B+N]
    const forward = tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(logits, -1)), -1)));
    if (!opts.symmetric) return forward as tf.Scalar;
    const positives = tf.slice(p, [0, 0], [b, -1]); // [B, D]
    const back = tf.mul(tf.matMul(positives, tf.transpose(q)), opts.scale); // [B, B]
    const backLoss = tf.neg(
      tf.mean(tf.sum(tf.mul(tf.oneHot(tf.range(0, b, 1, 'int32'), b), tf.logSoftmax(back, -1)), -1)),
    );
    return tf.mul(tf.add(forward, backLoss), 0.5) as tf.Scalar;
  });
}
