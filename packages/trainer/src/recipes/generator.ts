/**
 * Generator fine-tuning on retrieved context: a configuration of the generic loop. Each example
 * is the prompt (question + passages, in the model's prompt format) followed by the answer and
 * eos; the loss is the mean negative log-likelihood of the answer tokens (padding is masked), plus,
 * with `promptLossWeight` > 0, that weight times the mean NLL of the prompt tokens: a language-model
 * signal on every token, which a model trained from scratch needs to learn to copy from its context
 * (the answer tokens alone are a few per example). Full fine-tuning, or LoRA when `lora` is set.
 *
 * @example
 * const examples = await buildRaftExamples(qa, bm25, corpusById, { k: 3, goldShare: 0.8 });
 * await trainGenerator(model, tokenizer, DEFAULT_PROMPT_FORMAT, examples, { steps: 300, runDir: 'runs/gen' });
 */
import * as tf from '@tensorflow/tfjs';
import type { Tokenizer } from '@dalm/core';
import { answerIds, applyLora, buildPrompt, type CausalLM, type LoraConfig, type PromptFormat } from '@dalm/generator';
import { decoderTrainMemory } from './decoder-memory';
import { train, type TrainCallbacks, type TrainResult } from '../loop/trainer';
import {
  DEFAULT_TRAIN_LOOP_CONFIG,
  stripUndefined,
  validateTrainLoopConfig,
  type TrainLoopConfig,
  recipeSettings,
} from '../loop/config';
import { sequenceLogLikelihood } from '../losses/token-nll';
import type { GeneratorExample } from '../data/raft';

export interface GeneratorTrainConfig extends TrainLoopConfig {
  /** Longest training sequence (prompt + answer), in tokens; passages are truncated to fit. */
  maxSeqLength: number;
  /** Longest answer kept, in tokens (longer answers are cut, eos still appended). */
  maxAnswerTokens: number;
  /**
   * Weight of the prompt tokens' mean NLL added to the answer tokens' mean NLL; 0 trains on the
   * answer alone (the usual choice when fine-tuning a pretrained model).
   */
  promptLossWeight: number;
  /** LoRA settings; null trains all weights. */
  lora: LoraConfig | null;
}

export const DEFAULT_GENERATOR_TRAIN_CONFIG: Readonly<GeneratorTrainConfig> = Object.freeze({
  ...DEFAULT_TRAIN_LOOP_CONFIG,
  steps: 300,
  batchSize: 8,
  learningRate: 1e-3,
  warmupSteps: 20,
  maxSeqLength: 384,
  maxAnswerTokens: 48,
  promptLossWeight: 0,
  lora: null,
  label: 'train generator',
});

export function validateGeneratorTrainConfig(partial: Partial<GeneratorTrainConfig> = {}): GeneratorTrainConfig {
  const merged = { ...DEFAULT_GENERATOR_TRAIN_CONFIG, ...stripUndefined(partial) };
  const c = { ...merged, ...validateTrainLoopConfig(merged) };
  if (!Number.isInteger(c.maxSeqLength) || c.maxSeqLength < 8)
    throw new Error(`generator config: maxSeqLength must be an integer >= 8, got ${c.maxSeqLength}`);
  if (!Number.isInteger(c.maxAnswerTokens) || c.maxAnswerTokens < 1 || c.maxAnswerTokens >= c.maxSeqLength) {
    throw new Error(
      `generator config: maxAnswerTokens must be an integer in [1, maxSeqLength), got ${c.maxAnswerTokens}`,
    );
  }
  if (!(c.promptLossWeight >= 0))
    throw new Error(`generator config: promptLossWeight must be >= 0, got ${c.promptLossWeight}`);
  return c;
}

/** Token rows of one example: the input, next-token targets, and the answer mask. */
export interface EncodedExample {
  input: number[];
  target: number[];
  mask: number[];
}

/** Prompt + answer -> (input, target, mask) with the loss only on answer tokens (and eos). */
export function encodeExample(
  model: CausalLM,
  tokenizer: Tokenizer,
  format: PromptFormat,
  ex: GeneratorExample,
  maxSeqLength: number,
  maxAnswerTokens: number,
): EncodedExample {
  const eos = model.specialTokens.eos[0];
  let answer = answerIds(tokenizer, format, ex.answer, eos);
  if (answer.length > maxAnswerTokens)
    answer = [...answer.slice(0, maxAnswerTokens - 1), ...(eos !== undefined ? [eos] : [])];
  const bos = model.specialTokens.bos ?? undefined;
  const prompt = buildPrompt(tokenizer, format, ex.question, ex.passages, maxSeqLength - answer.length, bos).ids;
  const seq = [...prompt, ...answer];
  return {
    input: seq.slice(0, -1),
    target: seq.slice(1),
    // target t is seq[t+1]: an answer token when t+1 >= prompt.length
    mask: seq.slice(1).map((_, t) => (t + 1 >= prompt.length ? 1 : 0)),
  };
}

export interface LmBatch {
  inputIds: tf.Tensor2D;
  targets: tf.Tensor2D;
  lossMask: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  /** Flat indices (into batch·seq) of the positions whose loss counts: [n]. */
  lossPositions: tf.Tensor1D;
  /** Targets at those positions: [n]. */
  lossTargets: tf.Tensor1D;
  /** Weight of each of those positions in the loss (Σ over answer positions = 1): [n]. */
  lossWeights: tf.Tensor1D;
}

/**
 * Right-pads encoded examples into a batch. The loss positions are the answer tokens, and with
 * `promptWeight` > 0 also the prompt tokens: answer positions weigh 1/(answer tokens), prompt
 * positions promptWeight/(prompt tokens), so the loss is mean answer NLL + promptWeight · mean prompt NLL.
 */
export function collateLm(rows: readonly EncodedExample[], padId: number, promptWeight = 0): LmBatch {
  const T = Math.max(...rows.map((r) => r.input.length));
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(padId);
  const tgt = new Int32Array(B * T);
  const lm = new Float32Array(B * T);
  const am = new Int32Array(B * T);
  const positions: number[] = [];
  const posTargets: number[] = [];
  const isAnswer: boolean[] = [];
  rows.forEach((r, i) => {
    ids.set(r.input, i * T);
    tgt.set(r.target, i * T);
    lm.set(r.mask, i * T);
    am.fill(1, i * T, i * T + r.input.length);
    r.mask.forEach((m, t) => {
      if (m || promptWeight > 0) {
        positions.push(i * T + t);
        posTargets.push(r.target[t]);
        isAnswer.push(m > 0);
      }
    });
  });
  const nAnswer = Math.max(1, isAnswer.filter(Boolean).length);
  const nPrompt = Math.max(1, isAnswer.length - isAnswer.filter(Boolean).length);
  return {
    lossPositions: tf.tensor1d(positions, 'int32'),
    lossTargets: tf.tensor1d(posTargets, 'int32'),
    lossWeights: tf.tensor1d(
      isAnswer.map((a) => (a ? 1 / nAnswer : promptWeight / nPrompt)),
      'float32',
    ),
    inputIds: tf.tensor2d(ids, [B, T], 'int32'),
    targets: tf.tensor2d(tgt, [B, T], 'int32'),
    lossMask: tf.tensor2d(lm, [B, T], 'float32'),
    attentionMask: tf.tensor2d(am, [B, T], 'int32'),
  };
}

/**
 * Loss of a batch under `model`: the `lossWeights`-weighted NLL of the `lossPositions` (without
 * prompt positions, the mean answer-token NLL: the same value as `maskedTokenNll` over the full
 * logits). Logits are computed only at those positions, so the vocabulary projection does not
 * run over tokens that carry no loss.
 */
export function lmLoss(model: CausalLM, b: LmBatch, training: boolean): tf.Scalar {
  return tf.tidy(() => {
    const n = b.lossPositions.shape[0];
    if (n === 0) return tf.scalar(0);
    const { logits } = model.forward(b.inputIds, {
      attentionMask: b.attentionMask,
      training,
      positions: b.lossPositions,
    }); // [1, n, vocab]
    return tf.neg(
      tf.sum(
        sequenceLogLikelihood(
          logits as tf.Tensor3D,
          tf.reshape(b.lossTargets, [1, n]) as tf.Tensor2D,
          tf.reshape(b.lossWeights, [1, n]) as tf.Tensor2D,
        ),
      ),
    ) as tf.Scalar;
  });
}

export interface GeneratorTrainHooks extends TrainCallbacks {
  evaluate?: (step: number) => Promise<Record<string, number>>;
}

/**
 * Fine-tunes `model` in place; with `config.lora`, LoRA is applied first (only adapters train).
 * Returns the sequence budget used as `contextTokens`: store it in the prompt format you save
 * (`{ ...format, contextTokens }`) so `ask` builds prompts the same way. `format` is not modified.
 */
export async function trainGenerator(
  model: CausalLM,
  tokenizer: Tokenizer,
  format: PromptFormat,
  examples: readonly GeneratorExample[],
  partial: Partial<GeneratorTrainConfig> = {},
  hooks: GeneratorTrainHooks = {},
): Promise<TrainResult & { contextTokens: number }> {
  const c = validateGeneratorTrainConfig(partial);
  if (examples.length === 0) throw new Error('trainGenerator: no training examples');
  if (c.lora && !model.params.names().some((n) => n.includes('.lora_'))) applyLora(model, c.lora);
  const maxLen = Math.min(c.maxSeqLength, model.maxPositions ?? Infinity);
  const encoded = examples.map((ex) => encodeExample(model, tokenizer, format, ex, maxLen, c.maxAnswerTokens));
  const pad = model.specialTokens.pad ?? model.specialTokens.eos[0] ?? 0;
  const result = await train<LmBatch>(
    {
      params: { generator: model.params },
      dataset: {
        size: encoded.length,
        collate: (idx) =>
          collateLm(
            idx.map((i) => encoded[i]),
            pad,
            c.promptLossWeight,
          ),
      },
      inputs: { data: encoded, recipe: recipeSettings(c) }, // token ids: the tokenizer and prompt format are in them
      loss: (b) => lmLoss(model, b, true),
      memory: decoderTrainMemory(model, c.batchSize, maxLen),
      evaluate: hooks.evaluate,
    },
    c,
    hooks,
  );
  return { ...result, contextTokens: maxLen };
}
