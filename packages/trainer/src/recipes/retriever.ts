/**
 * Contrastive retriever training: a configuration of the generic loop with the InfoNCE loss over
 * (query, positive, hard negatives) batches, with in-batch negatives, optional symmetric term, and
 * optional GradCache (Gao et al., 2021, "Scaling Deep Contrastive Learning Batch Size under Memory
 * Limited Setup") so the contrastive batch is not capped by memory.
 *
 * @example
 * const pairs = await readPairs('data/pairs.jsonl');
 * await trainRetriever(encoder, pairs, { steps: 500, batchSize: 32, runDir: 'runs/retriever' });
 * await encoder.save('models/retriever');
 */
import * as tf from '@tensorflow/tfjs';
import { estimateBackpropBytes, trainingMemoryLimitBytes, type TransformerShape } from '@dalm/core';
import type { Encoder } from '@dalm/retriever';
import {
  MEMORY_HEADROOM,
  train,
  type GradientOutput,
  type TrainCallbacks,
  type TrainMemory,
  type TrainResult,
} from '../loop/trainer';
import {
  DEFAULT_TRAIN_LOOP_CONFIG,
  stripUndefined,
  validateTrainLoopConfig,
  type TrainLoopConfig,
  recipeSettings,
} from '../loop/config';
import { infoNceLoss } from '../losses/info-nce';
import type { TrainingPair } from '../data/pairs';

export interface RetrieverTrainConfig extends TrainLoopConfig {
  /** InfoNCE scale = 1/τ. */
  scale: number;
  /** Add the passage→query InfoNCE term. */
  symmetric: boolean;
  /** Hard negatives per pair taken from the pairs file (0: in-batch negatives only). */
  hardNegatives: number;
  /** Compute gradients with GradCache in chunks of this many texts (0: plain backprop over the whole batch). */
  gradCacheChunk: number;
}

export const DEFAULT_RETRIEVER_TRAIN_CONFIG: Readonly<RetrieverTrainConfig> = Object.freeze({
  ...DEFAULT_TRAIN_LOOP_CONFIG,
  steps: 200,
  batchSize: 32,
  learningRate: 5e-4,
  warmupSteps: 20,
  scale: 20,
  symmetric: false,
  hardNegatives: 1,
  // Backprop memory grows ~1 GiB per 1k tokens on wasm (4 GiB heap): chunked GradCache keeps it bounded.
  gradCacheChunk: 16,
  label: 'train retriever',
});

export function validateRetrieverTrainConfig(partial: Partial<RetrieverTrainConfig> = {}): RetrieverTrainConfig {
  const merged = { ...DEFAULT_RETRIEVER_TRAIN_CONFIG, ...stripUndefined(partial) };
  const c = { ...merged, ...validateTrainLoopConfig(merged) };
  if (!(c.scale > 0)) throw new Error(`retriever config: scale must be > 0, got ${c.scale}`);
  if (!Number.isInteger(c.hardNegatives) || c.hardNegatives < 0) {
    throw new Error(`retriever config: hardNegatives must be an integer >= 0, got ${c.hardNegatives}`);
  }
  if (!Number.isInteger(c.gradCacheChunk) || c.gradCacheChunk < 0) {
    throw new Error(`retriever config: gradCacheChunk must be an integer >= 0, got ${c.gradCacheChunk}`);
  }
  return c;
}

/** One contrastive micro-batch: texts, plus which (query, passage) cells are known false negatives. */
export interface ContrastiveBatch {
  queries: string[];
  /** Positives (row i for query i), then hard negatives. */
  passages: string[];
  /** [B, P] 1 where passage j is not a negative for query i (same text as its positive), else 0. */
  exclude: number[][];
}

export function collateContrastive(
  pairs: readonly TrainingPair[],
  indices: number[],
  hardNegatives: number,
): ContrastiveBatch {
  const batch = indices.map((i) => pairs[i]);
  const queries = batch.map((p) => p.query);
  const passages = batch.map((p) => p.positive);
  for (const p of batch) passages.push(...(p.negatives ?? []).slice(0, hardNegatives));
  // A passage equal to query i's positive (or to another positive of the same query) is no negative.
  const positivesOfQuery = batch.map((p) => new Set(batch.filter((o) => o.query === p.query).map((o) => o.positive)));
  const exclude = batch.map((_, i) => passages.map((text, j) => (j !== i && positivesOfQuery[i].has(text) ? 1 : 0)));
  return { queries, passages, exclude };
}

/** Plain backprop: both towers in one graph. */
function contrastiveLoss(encoder: Encoder, b: ContrastiveBatch, c: RetrieverTrainConfig): tf.Scalar {
  return tf.tidy(() => {
    const q = encoder.encodeTensor(b.queries, { kind: 'query', training: true }); // [B, D]
    const p = encoder.encodeTensor(b.passages, { kind: 'passage', training: true }); // [P, D]
    return infoNceLoss(q, p, { scale: c.scale, symmetric: c.symmetric }, tf.tensor2d(b.exclude, undefined, 'float32'));
  });
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/**
 * GradCache: (1) embed all texts chunk by chunk without building a graph, (2) take the loss and its
 * gradient with respect to the embeddings, (3) re-embed chunk by chunk with a graph and backprop
 * Σ(embedding · cached gradient), accumulating parameter gradients. Exact when dropout is off
 * (with dropout, the two passes draw different masks: an approximation GradCache also notes).
 */
export async function gradCacheGradients(
  encoder: Encoder,
  b: ContrastiveBatch,
  c: RetrieverTrainConfig,
  vars: Map<string, tf.Variable>,
  prefix = 'retriever/',
): Promise<GradientOutput> {
  const chunk = c.gradCacheChunk;
  const embedAll = (texts: string[], kind: 'query' | 'passage') =>
    tf.tidy(
      () =>
        tf.concat(chunks(texts, chunk).map((t) => encoder.encodeTensor(t, { kind, training: true }))) as tf.Tensor2D,
    );
  const qAll = embedAll(b.queries, 'query');
  const pAll = embedAll(b.passages, 'passage');
  const exclude = tf.tensor2d(b.exclude, undefined, 'float32');
  const { value, grads } = tf.valueAndGrads((q: tf.Tensor, p: tf.Tensor) =>
    infoNceLoss(q as tf.Tensor2D, p as tf.Tensor2D, { scale: c.scale, symmetric: c.symmetric }, exclude),
  )([qAll, pAll]);
  const [dq, dp] = grads;
  const loss = (await value.data())[0] as number;
  tf.dispose([qAll, pAll, exclude, value]);

  const names = [...vars.keys()].filter((n) => n.startsWith(prefix));
  const list = names.map((n) => vars.get(n)!);
  const acc = new Map<string, tf.Tensor>();
  const backprop = (texts: string[], kind: 'query' | 'passage', upstream: tf.Tensor) => {
    let offset = 0;
    for (const part of chunks(texts, chunk)) {
      const g = tf.slice(upstream, [offset, 0], [part.length, -1]);
      offset += part.length;
      const r = tf.variableGrads(
        () => tf.sum(tf.mul(encoder.encodeTensor(part, { kind, training: true }), g)) as tf.Scalar,
        list,
      );
      r.value.dispose();
      g.dispose();
      names.forEach((n, i) => {
        const grad = r.grads[list[i].name];
        if (!grad) return;
        const prev = acc.get(n);
        acc.set(n, prev ? tf.add(prev, grad) : grad);
        if (prev) {
          prev.dispose();
          grad.dispose();
        }
      });
    }
  };
  backprop(b.queries, 'query', dq);
  backprop(b.passages, 'passage', dp);
  tf.dispose([dq, dp]);
  return { loss, grads: acc };
}

export interface RetrieverTrainHooks extends TrainCallbacks {
  /** Retrieval metrics on held-out queries (the encoder's fingerprint is refreshed before). */
  evaluate?: (step: number) => Promise<Record<string, number>>;
}

/** The encoder's shape, for memory estimates. */
export function encoderShape(encoder: Encoder): TransformerShape {
  const m = encoder.model.config;
  return {
    layers: m.num_hidden_layers,
    hidden: m.hidden_size,
    heads: m.num_attention_heads,
    intermediate: m.intermediate_size,
    params: encoder.params.count(),
  };
}

/** Padded token lengths a batch will have: a high percentile of a sample of the pairs, capped at maxLength. */
export interface TextLengths {
  query: number;
  passage: number;
}

/** The 98th-percentile token length of up to 256 evenly spread pairs (batches pad to their longest text). */
export function sampleTextLengths(encoder: Encoder, pairs: readonly TrainingPair[]): TextLengths {
  const n = Math.min(256, pairs.length);
  const sample = Array.from({ length: n }, (_, i) => pairs[Math.floor((i * pairs.length) / n)]!);
  const p98 = (texts: string[], kind: 'query' | 'passage') => {
    const lens = encoder
      .tokenize(texts, kind)
      .map((r) => r.length)
      .sort((a, b) => a - b);
    return lens.length ? lens[Math.min(lens.length - 1, Math.floor(0.98 * lens.length))]! : encoder.settings.maxLength;
  };
  return {
    query: p98(
      sample.map((p) => p.query),
      'query',
    ),
    passage: p98(
      sample.flatMap((p) => [p.positive, ...(p.negatives ?? [])]),
      'passage',
    ),
  };
}

/**
 * What a retriever step needs: with GradCache, one chunk of texts at the longer of the two lengths;
 * with plain backprop, all queries and passages of the micro-batch in one graph. `lengths` defaults
 * to the encoder's maxLength for both (the worst case).
 */
export function retrieverTrainMemory(
  encoder: Encoder,
  c: RetrieverTrainConfig,
  chunk = c.gradCacheChunk,
  lengths?: TextLengths,
): TrainMemory {
  const shape = encoderShape(encoder);
  const max = encoder.settings.maxLength;
  const len = lengths ?? { query: max, passage: max };
  const groups: Array<[number, number]> =
    chunk > 0
      ? [[chunk, Math.max(len.query, len.passage)]]
      : [
          [c.batchSize, len.query],
          [c.batchSize * (1 + c.hardNegatives), len.passage],
        ];
  return {
    estimateBytes: (checkpointing) => {
      const trainableParams = encoder.params.count(true);
      const state = estimateBackpropBytes(shape, 0, 1, { checkpointing, trainableParams });
      return groups.reduce(
        (sum, [n, l]) => sum + estimateBackpropBytes(shape, n, l, { checkpointing, trainableParams }) - state,
        state,
      );
    },
    advice: [
      chunk > 0 ? '--grad-cache-chunk' : '--grad-cache-chunk 8 (GradCache instead of plain backprop)',
      '--batch-size',
      `the encoder's max_seq_length (${max}, in sentence_bert_config.json)`,
      '--gradient-checkpointing on',
    ],
  };
}

/**
 * The GradCache chunk to use: `c.gradCacheChunk`, lowered (halved) while a chunk would not fit the
 * backend's memory (with gradient checkpointing if `c.gradientCheckpointing` allows it), down to 1.
 * A wasm out-of-memory failure cannot be caught and retried (the module aborts), so this is decided
 * from the estimate, before training. Plain backprop (0) is left as asked.
 */
export function fittingGradCacheChunk(encoder: Encoder, c: RetrieverTrainConfig, lengths?: TextLengths): number {
  const limit = trainingMemoryLimitBytes();
  let chunk = c.gradCacheChunk;
  if (limit == null || chunk === 0) return chunk;
  const checkpointing = c.gradientCheckpointing !== 'off';
  while (
    chunk > 1 &&
    retrieverTrainMemory(encoder, c, chunk, lengths).estimateBytes(checkpointing) > limit * MEMORY_HEADROOM
  )
    chunk = Math.floor(chunk / 2);
  return chunk;
}

/** Trains `encoder` in place on `pairs`. */
export async function trainRetriever(
  encoder: Encoder,
  pairs: readonly TrainingPair[],
  partial: Partial<RetrieverTrainConfig> = {},
  hooks: RetrieverTrainHooks = {},
): Promise<TrainResult> {
  const asked = validateRetrieverTrainConfig(partial);
  const lengths = trainingMemoryLimitBytes() == null ? undefined : sampleTextLengths(encoder, pairs);
  const chunk = fittingGradCacheChunk(encoder, asked, lengths);
  if (chunk !== asked.gradCacheChunk && !asked.quiet) {
    process.stderr.write(
      `${asked.label}: GradCache chunk lowered from ${asked.gradCacheChunk} to ${chunk} texts so that one chunk's backprop ` +
        `(${encoder.settings.maxLength} tokens each) fits the wasm heap\n`,
    );
  }
  const c = { ...asked, gradCacheChunk: chunk };
  if (pairs.length < 2)
    throw new Error(`trainRetriever: need at least 2 pairs for in-batch negatives, got ${pairs.length}`);
  const evaluate = hooks.evaluate;
  const result = await train<ContrastiveBatch>(
    {
      params: { retriever: encoder.params },
      dataset: { size: pairs.length, collate: (idx) => collateContrastive(pairs, idx, c.hardNegatives) },
      inputs: { data: pairs, tokenizer: encoder.tokenizer.toJSON(), recipe: recipeSettings(c) },
      memory: retrieverTrainMemory(encoder, c, c.gradCacheChunk, lengths),
      ...(c.gradCacheChunk > 0
        ? { gradients: (b, _ctx, vars) => gradCacheGradients(encoder, b, c, vars) }
        : { loss: (b) => contrastiveLoss(encoder, b, c) }),
      evaluate: evaluate
        ? async (step) => {
            await encoder.ensureFingerprint(); // readable on webgpu too (elsewhere the getter follows params.version)
            return evaluate(step);
          }
        : undefined,
    },
    c,
    hooks,
  );
  return result;
}
