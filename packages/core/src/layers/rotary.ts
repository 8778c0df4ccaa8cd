/**
 * Rotary position embeddings (Su et al., 2021, "RoFormer"), in HF's "rotate_half" convention:
 * the first half of each head's dims pairs with the second half, inv_freq_i = θ^(−2i/d).
 * x' = x·cos + rotate_half(x)·sin, rotate_half([x1, x2]) = [−x2, x1].
 */
import * as tf from '@tensorflow/tfjs';

export interface RotaryTables {
  cos: tf.Tensor; // [batch, 1, seq, dim]
  sin: tf.Tensor; // [batch, 1, seq, dim]
}

/** positions: int32 [batch, seq] (absolute token positions) -> cos/sin tables. */
export function rotaryTables(positions: tf.Tensor, headDim: number, theta: number): RotaryTables {
  return tf.tidy(() => {
    const [b, t] = positions.shape;
    const half = headDim / 2;
    const invFreq = new Float32Array(half);
    for (let i = 0; i < half; i++) invFreq[i] = 1 / theta ** ((2 * i) / headDim);
    const pos = tf.reshape(tf.cast(positions, 'float32'), [b, t, 1]);
    const freqs = tf.mul(pos, tf.tensor1d(invFreq)); // [b, t, half]
    const emb = tf.concat([freqs, freqs], -1); // [b, t, dim]
    const cos = tf.reshape(tf.cos(emb), [b, 1, t, headDim]);
    const sin = tf.reshape(tf.sin(emb), [b, 1, t, headDim]);
    return { cos, sin };
  });
}

/** x: [batch, heads, seq, dim] -> rotated, same shape. */
export function applyRotary(x: tf.Tensor, tables: RotaryTables): tf.Tensor {
  return tf.tidy(() => {
    const half = (x.shape[3] as number) / 2;
    const [x1, x2] = tf.split(x, [half, half], -1);
    const rotated = tf.concat([tf.neg(x2), x1], -1);
    return tf.add(tf.mul(x, tables.cos), tf.mul(rotated, tables.sin));
  });
}
