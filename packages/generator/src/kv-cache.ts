/**
 * Key/value cache for incremental decoding: per layer, the keys and values of every position seen
 * so far, `[batch, kvHeads, past, headDim]` (keys already rotated for RoPE models). A forward pass
 * with a cache appends its new positions and attends over past + new, so generation runs the
 * prompt once (prefill) and then one token per step.
 */
import * as tf from '@tensorflow/tfjs';

interface LayerEntry {
  k: tf.Tensor; // [batch, kvHeads, past, dim]
  v: tf.Tensor; // [batch, kvHeads, past, dim]
}

export class KVCache {
  private readonly layers: (LayerEntry | null)[];

  constructor(readonly numLayers: number) {
    this.layers = new Array<LayerEntry | null>(numLayers).fill(null);
  }

  /** Number of cached positions (0 before the first forward pass). */
  get length(): number {
    return this.layers[0]?.k.shape[2] ?? 0;
  }

  /**
   * Appends `k`, `v` ([batch, kvHeads, new, dim]) to layer `layer` and returns the full keys and
   * values ([batch, kvHeads, past + new, dim]). The stored tensors survive the caller's `tf.tidy`
   * (they are kept) and the replaced ones are disposed.
   */
  update(layer: number, k: tf.Tensor, v: tf.Tensor): LayerEntry {
    if (layer < 0 || layer >= this.numLayers)
      throw new Error(`KVCache: layer ${layer} out of range [0, ${this.numLayers})`);
    const old = this.layers[layer];
    let entry: LayerEntry;
    if (old) {
      if (old.k.shape[0] !== k.shape[0]) {
        throw new Error(`KVCache: batch size ${k.shape[0]} does not match the cached batch size ${old.k.shape[0]}`);
      }
      entry = { k: tf.concat([old.k, k], 2), v: tf.concat([old.v, v], 2) };
      old.k.dispose();
      old.v.dispose();
    } else {
      entry = { k: k.clone(), v: v.clone() };
    }
    tf.keep(entry.k);
    tf.keep(entry.v);
    this.layers[layer] = entry;
    return entry;
  }

  /** Frees every cached tensor; the cache is empty (length 0) afterwards and can be reused. */
  dispose(): void {
    for (let i = 0; i < this.layers.length; i++) {
      const e = this.layers[i];
      if (e) {
        e.k.dispose();
        e.v.dispose();
      }
      this.layers[i] = null;
    }
  }
}
