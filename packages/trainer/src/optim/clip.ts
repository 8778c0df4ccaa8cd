import * as tf from '@tensorflow/tfjs';

/**
 * Global-norm gradient clipping (Pascanu et al., 2013): if ‖g‖₂ over all tensors exceeds
 * `maxNorm`, every gradient is scaled by maxNorm / ‖g‖₂. Returns new tensors (the inputs are
 * not disposed) and the norm before clipping. `maxNorm <= 0` only measures.
 */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return Math.sqrt(squares.length ? (tf.addN(squares).dataSync()[0] as number) : 0);
  });
  const factor = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, factor === 1 ? tf.clone(g) : tf.mul(g, factor));
  return { grads: out, norm };
}
