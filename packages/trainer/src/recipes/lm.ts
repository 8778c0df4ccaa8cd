/**
 * Domain-adaptive language-model pretraining (Gururangan et al., 2020, "Don't Stop Pretraining"):
 * next-token prediction over the corpus itself, before fine-tuning on questions. A from-scratch
 * generator needs it to know the domain's language at all; a pretrained one adapts to the domain.
 * The corpus is tokenized, joined with eos between passages, and cut into windows of `maxSeqLength`
 * tokens; every token counts in the loss.
 */
import type { Tokenizer } from '@dalm/core';
import type { CausalLM } from '@dalm/generator';
import { decoderTrainMemory } from './decoder-memory';
import { train, type TrainCallbacks, type TrainResult } from '../loop/trainer';
import {
  DEFAULT_TRAIN_LOOP_CONFIG,
  stripUndefined,
  validateTrainLoopConfig,
  type TrainLoopConfig,
  recipeSettings,
} from '../loop/config';
import { collateLm, lmLoss, type EncodedExample, type LmBatch } from './generator';

export interface LmTrainConfig extends TrainLoopConfig {
  /** Tokens per training window. */
  maxSeqLength: number;
}

export const DEFAULT_LM_TRAIN_CONFIG: Readonly<LmTrainConfig> = Object.freeze({
  ...DEFAULT_TRAIN_LOOP_CONFIG,
  steps: 300,
  batchSize: 8,
  learningRate: 2e-3,
  warmupSteps: 30,
  maxSeqLength: 256,
  label: 'train lm',
});

export function validateLmTrainConfig(partial: Partial<LmTrainConfig> = {}): LmTrainConfig {
  const merged = { ...DEFAULT_LM_TRAIN_CONFIG, ...stripUndefined(partial) };
  const c = { ...merged, ...validateTrainLoopConfig(merged) };
  if (!Number.isInteger(c.maxSeqLength) || c.maxSeqLength < 8)
    throw new Error(`lm config: maxSeqLength must be an integer >= 8, got ${c.maxSeqLength}`);
  return c;
}

/** Token windows of the joined corpus, each an (input, next-token target, all-ones mask) row. */
export function lmWindows(
  texts: readonly string[],
  tokenizer: Tokenizer,
  eos: number | undefined,
  length: number,
): EncodedExample[] {
  const stream: number[] = [];
  for (const t of texts) {
    stream.push(...tokenizer.encode(t, { addSpecialTokens: false }));
    if (eos !== undefined) stream.push(eos);
  }
  const rows: EncodedExample[] = [];
  for (let i = 0; i + 1 < stream.length; i += length) {
    const w = stream.slice(i, i + length + 1);
    if (w.length < 2) break;
    rows.push({ input: w.slice(0, -1), target: w.slice(1), mask: w.slice(1).map(() => 1) });
  }
  return rows;
}

export async function trainLanguageModel(
  model: CausalLM,
  tokenizer: Tokenizer,
  texts: readonly string[],
  partial: Partial<LmTrainConfig> = {},
  hooks: TrainCallbacks & { evaluate?: (step: number) => Promise<Record<string, number>> } = {},
): Promise<TrainResult> {
  const c = validateLmTrainConfig(partial);
  const length = Math.min(c.maxSeqLength, model.maxPositions ?? Infinity);
  const rows = lmWindows(texts, tokenizer, model.specialTokens.eos[0], length);
  if (rows.length === 0) throw new Error('trainLanguageModel: the corpus is empty');
  const pad = model.specialTokens.pad ?? model.specialTokens.eos[0] ?? 0;
  return train<LmBatch>(
    {
      params: { generator: model.params },
      dataset: {
        size: rows.length,
        collate: (idx) =>
          collateLm(
            idx.map((i) => rows[i]),
            pad,
          ),
      },
      inputs: { data: rows, recipe: recipeSettings(c) },
      loss: (b) => lmLoss(model, b, true),
      memory: decoderTrainMemory(model, c.batchSize, length),
      evaluate: hooks.evaluate,
    },
    c,
    hooks,
  );
}
