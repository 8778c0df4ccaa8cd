/**
 * One decoding step as the generation loop sees it, whatever runs the model: given every row's
 * tokens so far and their attention mask, the next-token logits of each row. A stepper owns its
 * key/value cache (tfjs: a KVCache of tensors; ONNX Runtime: the session's present.* outputs), so
 * `generate`, `stream` and the RAG pipeline run unchanged on tfjs and on ONNX Runtime.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, CausalLMType, SpecialTokens } from './causal-lm';
import type { KVCache } from './kv-cache';

/** Next-token logits, one step at a time. */
export interface TokenStepper {
  /**
   * ids, mask: [batch, length] (left-padded; all tokens so far, the ones new since the last call at
   * the end). Returns the logits of each row's last position, row-major [batch, vocab].
   */
  logits(ids: readonly number[][], mask: readonly number[][]): Promise<Float32Array>;
  /** Frees the cache. */
  dispose(): void;
}

/** A model generation can run on that is not a tfjs CausalLM (ONNX Runtime). */
export interface IncrementalLM {
  readonly modelType: CausalLMType;
  readonly vocabSize: number;
  readonly numLayers: number;
  readonly maxPositions: number | null;
  readonly specialTokens: SpecialTokens;
  /** A fresh stepper; `useCache` false recomputes the whole sequence every step. */
  stepper(useCache: boolean): TokenStepper;
  dispose(): void;
}

/** Anything `generate` runs on. */
export type GenerationModel = CausalLM | IncrementalLM;

function isIncremental(model: GenerationModel): model is IncrementalLM {
  return typeof (model as IncrementalLM).stepper === 'function';
}

/** The stepper of a tfjs CausalLM: prefill, then one token per step through a KVCache (or none). */
class TfjsStepper implements TokenStepper {
  private readonly cache: KVCache | null;
  private started = false;

  constructor(
    private readonly model: CausalLM,
    useCache: boolean,
  ) {
    this.cache = useCache ? model.createCache() : null;
  }

  async logits(ids: readonly number[][], mask: readonly number[][]): Promise<Float32Array> {
    const batch = ids.length;
    const logits = tf.tidy(() => {
      const feed = this.cache && this.started ? ids.map((r) => r.slice(-1)) : ids.map((r) => r.slice()); // [b, 1] after the prefill
      const inputIds = tf.tensor2d(feed, [batch, feed[0]!.length], 'int32');
      const attentionMask = tf.tensor2d(
        mask.map((r) => r.slice()),
        [batch, mask[0]!.length],
        'int32',
      ); // [b, past + new]
      return this.model.forward(inputIds, { attentionMask, cache: this.cache ?? undefined, lastOnly: true }).logits; // [b, 1, vocab]
    });
    this.started = true;
    const data = (await logits.data()) as Float32Array;
    logits.dispose();
    return data;
  }

  dispose(): void {
    this.cache?.dispose();
  }
}

/** The stepper for any generation model. */
export function tokenStepper(model: GenerationModel, useCache: boolean): TokenStepper {
  return isIncremental(model) ? model.stepper(useCache) : new TfjsStepper(model, useCache);
}
