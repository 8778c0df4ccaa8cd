/**
 * The interface every decoder-only language model implements (Llama, Qwen2, GPT-2), plus the
 * mask and position helpers they share. Generation, saving and fine-tuning only see this interface.
 */
import * as tf from '@tensorflow/tfjs';
import { causalBias, paddingBias, type Linear, type ParamStore } from '@dalm/core';
import type { KVCache } from './kv-cache';

/** Architectures with a CausalLM implementation (HF `model_type`). */
export type CausalLMType = 'llama' | 'qwen2' | 'gpt2';

export const CAUSAL_LM_TYPES: readonly CausalLMType[] = ['llama', 'qwen2', 'gpt2'];

export interface CausalLMForwardOptions {
  /** 1 = real token, 0 = padding, over past + new positions: [batch, past + seq]. Default all ones. */
  attentionMask?: tf.Tensor;
  /**
   * Absolute positions of the new tokens, int32 [batch, seq]. Default: with an `attentionMask`,
   * cumsum(mask) − 1 over its last `seq` columns (pad slots get 1), as HF `generate` builds them, so
   * left-padded rows start at 0; without one, past, past+1, …
   */
  positionIds?: tf.Tensor;
  /** Cache of earlier positions; it is extended in place with this call's keys and values. */
  cache?: KVCache;
  /** Enables dropout. Default false. */
  training?: boolean;
  /** Only compute logits for the last position ([batch, 1, vocab]); saves the LM head over a long prompt. */
  lastOnly?: boolean;
  /**
   * Only compute logits at these flat positions (int32 [n], indices into batch·seq): logits are then
   * [1, n, vocab]. Training on answer tokens only needs a few positions, and the LM head over the
   * whole vocabulary is the costliest layer of a small model.
   */
  positions?: tf.Tensor;
}

export interface CausalLMOutput {
  /** [batch, seq, vocab] (or [batch, 1, vocab] with `lastOnly`); the caller disposes it. */
  logits: tf.Tensor;
  /** The cache passed in, now holding past + seq positions. */
  cache?: KVCache;
}

/** Special token ids a model was configured with. */
export interface SpecialTokens {
  bos: number | null;
  /** Every id that ends generation (may be empty). */
  eos: number[];
  pad: number | null;
}

export interface CausalLM {
  readonly modelType: CausalLMType;
  /** All parameters, by their HF names. */
  readonly params: ParamStore;
  readonly vocabSize: number;
  readonly numLayers: number;
  /** Largest number of positions the model can address (learned position table), or null when unbounded (RoPE). */
  readonly maxPositions: number | null;
  readonly specialTokens: SpecialTokens;
  /** inputIds int32 [batch, seq] -> logits [batch, seq, vocab]. */
  forward(inputIds: tf.Tensor, opts?: CausalLMForwardOptions): CausalLMOutput;
  /** An empty cache sized for this model. */
  createCache(): KVCache;
  /** Every linear layer by its HF module name (`model.layers.0.self_attn.q_proj`), e.g. for LoRA targets. */
  linears(): Map<string, Linear>;
  /** The HF `config.json` object of this model. */
  configJson(): Record<string, unknown>;
  /** Whether `name` is a parameter saved to `model.safetensors` (false for tied heads, LoRA matrices). */
  isSavedParam(name: string): boolean;
  dispose(): void;
}

/** Normalises HF's `eos_token_id` (number, list or null) to a list. */
export function eosList(eos: number | number[] | null | undefined): number[] {
  if (eos === null || eos === undefined) return [];
  return Array.isArray(eos) ? eos.slice() : [eos];
}

/**
 * Additive attention bias [batch|1, 1, seq, past + seq]: causal (query i sees keys ≤ past + i) plus
 * padding (keys with mask 0 are hidden).
 */
export function decoderBias(seq: number, past: number, attentionMask?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const keys = past + seq;
    const causal = causalBias(seq, keys, past); // [1, 1, seq, keys]
    if (!attentionMask) return causal;
    if (attentionMask.shape.length !== 2 || attentionMask.shape[1] !== keys) {
      throw new Error(
        `attentionMask must be [batch, ${keys}] (past ${past} + new ${seq}), got [${attentionMask.shape}]`,
      );
    }
    return tf.add(causal, paddingBias(attentionMask)); // [batch, 1, seq, keys]
  });
}

/** Position ids int32 [batch, seq] for new tokens: explicit, from the mask (cumsum − 1, pads → 1), or past + 0..seq−1. */
export function decoderPositions(batch: number, seq: number, past: number, opts: CausalLMForwardOptions): tf.Tensor {
  return tf.tidy(() => {
    if (opts.positionIds) {
      const p = opts.positionIds;
      if (p.shape.length !== 2 || p.shape[0] !== batch || p.shape[1] !== seq) {
        throw new Error(`positionIds must be [${batch}, ${seq}], got [${p.shape}]`);
      }
      return p.dtype === 'int32' ? p.clone() : tf.cast(p, 'int32');
    }
    if (opts.attentionMask) {
      const m = tf.cast(opts.attentionMask, 'int32'); // [batch, past + seq]
      const pos = tf.sub(tf.cumsum(m, 1), 1);
      const filled = tf.where(tf.equal(m, 0), tf.onesLike(pos), pos);
      return tf.slice(filled, [0, past], [batch, seq]);
    }
    return tf.tile(tf.reshape(tf.range(past, past + seq, 1, 'int32'), [1, seq]), [batch, 1]);
  });
}

/** Checks the shape and dtype of `inputIds` and returns [batch, seq]. */
export function checkInputIds(inputIds: tf.Tensor): [number, number] {
  if (inputIds.shape.length !== 2) throw new Error(`inputIds must be [batch, seq], got [${inputIds.shape}]`);
  if (inputIds.dtype !== 'int32') throw new Error(`inputIds must be int32, got ${inputIds.dtype}`);
  const [b, t] = inputIds.shape;
  if (b < 1 || t < 1) throw new Error(`inputIds must be non-empty, got [${inputIds.shape}]`);
  return [b, t];
}

/**
 * The final hidden states the LM head runs on: all of them, only the last position (`lastOnly`),
 * or only the flat `positions`. h: [batch, seq, hidden] -> [batch, seq|1, hidden] or [1, n, hidden].
 */
export function selectOutputStates(h: tf.Tensor, opts: CausalLMForwardOptions): tf.Tensor {
  const [batch, seq, hidden] = h.shape as number[];
  if (opts.lastOnly) return tf.slice(h, [0, seq - 1, 0], [batch, 1, hidden]);
  if (opts.positions) return tf.expandDims(tf.gather(tf.reshape(h, [batch * seq, hidden]), opts.positions), 0);
  return h;
}
