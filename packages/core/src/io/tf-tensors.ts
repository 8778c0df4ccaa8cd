/**
 * Conversions between decoded weight-file tensors and tf.Tensors. Whoever
 * receives a tf.Tensor owns it and must dispose it.
 */
import * as tf from '@tensorflow/tfjs';
import type { SafetensorsMap, SafetensorsTensor, WritableTensor } from './safetensors';

/**
 * Makes a tf.Tensor from a decoded tensor (float32 or int32). The caller owns
 * the result and must dispose it (or create it inside `tf.tidy`).
 *
 * @example
 * const w = toTfTensor(tensors.get('lm_head.weight')!); // [vocab, hidden]
 * w.dispose();
 */
export function toTfTensor(t: SafetensorsTensor | WritableTensor): tf.Tensor {
  return tf.tensor(t.data, t.shape, t.data instanceof Float32Array ? 'float32' : 'int32');
}

/**
 * Makes a name → tf.Tensor record from decoded tensors; release them all with
 * `tf.dispose(Object.values(record))` (or `tf.dispose(record)`).
 */
export function toTfTensors(tensors: SafetensorsMap | Record<string, WritableTensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of list) out[name] = toTfTensor(t);
  return out;
}

/**
 * Downloads a tf.Tensor into a writable tensor (float32 → Float32Array,
 * int32/bool → Int32Array). The input tensor is not disposed.
 */
export async function fromTfTensor(t: tf.Tensor): Promise<WritableTensor> {
  if (t.dtype === 'float32') return { shape: [...t.shape], data: (await t.data()) as Float32Array };
  if (t.dtype === 'int32' || t.dtype === 'bool') return { shape: [...t.shape], data: Int32Array.from(await t.data()) };
  throw new Error(`fromTfTensor: unsupported tensor dtype ${t.dtype} (float32, int32 or bool)`);
}

/** {@link fromTfTensor} over a name → tensor record; inputs are not disposed. */
export async function fromTfTensors(tensors: Record<string, tf.Tensor>): Promise<Record<string, WritableTensor>> {
  const out: Record<string, WritableTensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = await fromTfTensor(t);
  return out;
}
