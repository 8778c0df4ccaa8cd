import * as tf from '@tensorflow/tfjs';

/**
 * Global-norm gradient clipping (Pascanu et al., 2013): if ‖g‖₂ over all tensors exceeds
 * `maxNorm`, every gradient is scaled by maxNorm / ‖g‖₂. Returns new tensors (the inputs are
 * not disposed) and the norm before clipping. `maxNorm <= 0` only measures. The norm is read
 * asynchronously, so this runs on every backend (webgpu under Node has no synchronous reads).
 *
 * @example
 * const { grads: clipped, norm } = await clipByGlobalNorm(grads, 1.0);
 */
export async function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): Promise<{ grads: Map<string, tf.Tensor>; norm: number }> {
  let norm = 0;
  if (grads.size > 0) {
    // Added one by one, in order, not with tf.addN: webgpu's AddN binds every input to one shader and
    // fails past the adapter's storage-buffer limit (8 per stage by default); the float32 sums are the same.
    const sumSquares = tf.tidy(() =>
      [...grads.values()].map((g) => tf.sum(tf.square(g))).reduce((acc, s) => tf.add(acc, s)),
    ); // scalar
    norm = Math.sqrt((await sumSquares.data())[0] as number);
    sumSquares.dispose();
  }
  const factor = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, factor === 1 ? tf.clone(g) : tf.mul(g, factor));
  return { grads: out, norm };
}
