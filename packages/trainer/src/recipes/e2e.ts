/**
 * Joint end-to-end training of the retriever and the generator with the RAG-sequence objective
 * (Lewis et al., 2020), as a configuration of the generic loop. For a question q with answer y,
 * the CURRENT query encoder retrieves the top k passages d_1..d_k from a dense index over the
 * corpus (at collate time, no graph), then
 *
 *   s_i         = cos(E_q(q), E_d(d_i))                     cosine of the pooled vectors
 *   p(d_i | q)  = softmax_i(s_i / τ)                        τ = `retrievalTemperature`, over the k retrieved
 *   log p(y|q,d_i) = Σ_t log p(y_t | prompt(q, d_i), y_<t)  answer tokens + eos (`sequenceLogLikelihood`),
 *                                                           the prompt holding d_i ALONE, in the model's format
 *   L_rag(q, y) = −log Σ_i p(d_i | q) · p(y | q, d_i)       (÷ answer tokens when `normalizeByAnswerLength`)
 *
 * and the loss of a micro-batch is the mean of L_rag over its questions (`ragSequenceLoss`), plus
 * optionally `contrastiveWeight` · InfoNCE(q, gold passages) with in-batch negatives, over the
 * questions whose `positiveIds` name a corpus passage (`infoNceLoss`, scale `contrastiveScale`).
 *
 * One tf.variableGrads over both parameter groups ({retriever, generator}) gives
 *   ∂L/∂s_i = (p(d_i|q) − p(d_i|q,y)) / τ,   p(d_i|q,y) ∝ p(d_i|q)·p(y|q,d_i)   (per question)
 * so the query encoder learns from the generator: passages under which the generator finds the
 * answer likely gain retrieval probability, with no relevance labels. The generator's gradient
 * is each passage's answer likelihood weighted by the posterior p(d_i|q,y).
 *
 * Passage side (`passageMode`):
 * - 'frozen': passage vectors are computed once by the starting encoder and never change (query-side
 *   training as in RAG and RA-DIT). Only the query path carries gradient. The encoder's weights are
 *   shared by both towers, so after training, queries must be searched against those frozen
 *   vectors (the returned `passages.index`), not against a re-embedded corpus.
 * - 'reindex': the k retrieved passages are re-embedded WITH gradient by the encoder being trained,
 *   and the whole index is rebuilt every `reindexEvery` steps (RAG-end2end, Siriwardhana et al.,
 *   2023); each rebuild is logged as a `reindex` event with its duration.
 *
 * This is the marginal over passages, not DALM's "add log p(d_gold|q) to every token" objective.
 *
 * @example
 * await trainGenerator(model, tok, format, raftExamples, { steps: 300 }); // learn to read a passage first
 * const r = await trainEndToEnd(encoder, model, tok, format, qa, corpus, { steps: 200, k: 4, trainGenerator: false });
 * await r.passages.index.save('out/index'); r.passages.dispose();
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore, Tokenizer } from '@dalm/core';
import { l2Normalize, type Encoder, type Passage } from '@dalm/retriever';
import { applyLora, type CausalLM, type LoraConfig, type PromptFormat } from '@dalm/generator';
import { train, type LossOutput, type TrainCallbacks, type TrainResult } from '../loop/trainer';
import {
  DEFAULT_TRAIN_LOOP_CONFIG,
  stripUndefined,
  validateTrainLoopConfig,
  type TrainLoopConfig,
  recipeSettings,
} from '../loop/config';
import { infoNceLoss } from '../losses/info-nce';
import { ragSequenceLoss } from '../losses/rag-sequence';
import { sequenceLogLikelihood } from '../losses/token-nll';
import type { QaExample } from '../data/qa';
import { collateLm, encodeExample, type EncodedExample, type LmBatch } from './generator';
import { PASSAGE_INDEX_KINDS, PassageVectorIndex, type PassageIndexKind } from './e2e-index';

/** Where passage vectors come from during training (see the file comment). */
export type PassageMode = 'frozen' | 'reindex';
export const PASSAGE_MODES: readonly PassageMode[] = ['frozen', 'reindex'];

export interface E2ETrainConfig extends TrainLoopConfig {
  /** Passages retrieved per question: the RAG marginal runs over these k. */
  k: number;
  /** τ of p(d|q) = softmax(cos(q, d)/τ) over the k retrieved passages (scale = 1/τ). */
  retrievalTemperature: number;
  /** 'frozen': passage vectors from the starting encoder; 'reindex': from the trained encoder, index rebuilt on schedule. */
  passageMode: PassageMode;
  /** 'reindex' only: rebuild the whole index every N optimizer steps. */
  reindexEvery: number;
  /** Update the retriever (false: frozen for the run, restored after). */
  trainRetriever: boolean;
  /** Update the generator (false: frozen for the run, restored after). */
  trainGenerator: boolean;
  /** Weight of the in-batch InfoNCE term on gold passages (needs `positiveIds`); 0 disables it. */
  contrastiveWeight: number;
  /** InfoNCE scale = 1/τ of the contrastive term. */
  contrastiveScale: number;
  /** Divide each question's RAG loss by its answer length in tokens (eos included). */
  normalizeByAnswerLength: boolean;
  /** Longest generator row (prompt with one passage + answer), in tokens; the passage is cut to fit. */
  maxSeqLength: number;
  /** Longest answer kept, in tokens (eos still appended). */
  maxAnswerTokens: number;
  /** Index used for retrieval at collate time: 'exact' (fine up to ~10k passages) or 'hnsw'. */
  index: PassageIndexKind;
  /** HNSW candidate-list size at query time (raised to k when smaller). */
  efSearch: number;
  /** LoRA on the generator (applied when it has none yet); null trains all generator weights. */
  lora: LoraConfig | null;
}

export const DEFAULT_E2E_TRAIN_CONFIG: Readonly<E2ETrainConfig> = Object.freeze({
  ...DEFAULT_TRAIN_LOOP_CONFIG,
  steps: 200,
  batchSize: 4,
  learningRate: 1e-4,
  warmupSteps: 10,
  k: 4,
  retrievalTemperature: 0.05,
  passageMode: 'frozen',
  reindexEvery: 100,
  trainRetriever: true,
  trainGenerator: true,
  contrastiveWeight: 0,
  contrastiveScale: 20,
  normalizeByAnswerLength: false,
  maxSeqLength: 384,
  maxAnswerTokens: 48,
  index: 'exact',
  efSearch: 100,
  lora: null,
  label: 'train end-to-end',
});

/** Fills defaults and checks every field; errors name the field and what is valid. */
export function validateE2ETrainConfig(partial: Partial<E2ETrainConfig> = {}): E2ETrainConfig {
  const merged = { ...DEFAULT_E2E_TRAIN_CONFIG, ...stripUndefined(partial) };
  const c = { ...merged, ...validateTrainLoopConfig(merged) };
  const bad = (msg: string): never => {
    throw new Error(`end-to-end config: ${msg}`);
  };
  if (!Number.isInteger(c.k) || c.k < 1) bad(`k must be an integer >= 1, got ${c.k}`);
  if (!(c.retrievalTemperature > 0)) bad(`retrievalTemperature must be > 0, got ${c.retrievalTemperature}`);
  if (!PASSAGE_MODES.includes(c.passageMode))
    bad(`passageMode must be one of ${PASSAGE_MODES.join(', ')}, got "${c.passageMode}"`);
  if (!Number.isInteger(c.reindexEvery) || c.reindexEvery < 1)
    bad(`reindexEvery must be an integer >= 1, got ${c.reindexEvery}`);
  if (typeof c.trainRetriever !== 'boolean')
    bad(`trainRetriever must be true or false, got ${String(c.trainRetriever)}`);
  if (typeof c.trainGenerator !== 'boolean')
    bad(`trainGenerator must be true or false, got ${String(c.trainGenerator)}`);
  if (!c.trainRetriever && !c.trainGenerator)
    bad('trainRetriever and trainGenerator are both false: nothing would train');
  if (!(c.contrastiveWeight >= 0)) bad(`contrastiveWeight must be >= 0, got ${c.contrastiveWeight}`);
  if (!(c.contrastiveScale > 0)) bad(`contrastiveScale must be > 0, got ${c.contrastiveScale}`);
  if (c.contrastiveWeight > 0 && !c.trainRetriever)
    bad('contrastiveWeight > 0 trains the retriever: set trainRetriever to true or the weight to 0');
  if (c.passageMode === 'reindex' && !c.trainRetriever)
    bad("passageMode 'reindex' needs trainRetriever (a frozen encoder never changes the index)");
  if (!Number.isInteger(c.maxSeqLength) || c.maxSeqLength < 8)
    bad(`maxSeqLength must be an integer >= 8, got ${c.maxSeqLength}`);
  if (!Number.isInteger(c.maxAnswerTokens) || c.maxAnswerTokens < 1 || c.maxAnswerTokens >= c.maxSeqLength) {
    bad(`maxAnswerTokens must be an integer in [1, maxSeqLength), got ${c.maxAnswerTokens}`);
  }
  if (!PASSAGE_INDEX_KINDS.includes(c.index))
    bad(`index must be one of ${PASSAGE_INDEX_KINDS.join(', ')}, got "${c.index}"`);
  if (!Number.isInteger(c.efSearch) || c.efSearch < 1) bad(`efSearch must be an integer >= 1, got ${c.efSearch}`);
  return c;
}

/** What every step needs: the two models, the prompt format, and the passage index. */
export interface E2EModels {
  encoder: Encoder;
  model: CausalLM;
  tokenizer: Tokenizer;
  format: PromptFormat;
  passages: PassageVectorIndex;
}

/** One collated micro-batch: B questions, their K retrieved passages, and the B·K generator rows. */
export interface E2EBatch {
  questions: string[];
  /** Retrieved passage ids [B][K], best first. */
  passageIds: string[][];
  /** Their texts [B][K] (embedded with gradient in 'reindex' mode). */
  passageTexts: string[][];
  /** 'frozen' mode: the stored passage vectors [B, K, D]; 'reindex': null. */
  passageVectors: tf.Tensor3D | null;
  /** Generator rows, row b·K + i = prompt(q_b, d_i) + answer_b: [B·K, T]. */
  lm: LmBatch;
  /** Answer tokens (eos included) per question [B]. */
  answerTokens: tf.Tensor1D;
  /** [B, K] 1 where d_i is a gold passage of q_b (from `positiveIds`), else 0. */
  goldMask: tf.Tensor2D;
  /** Number of questions with a gold passage in their top k. */
  goldRows: number;
  /** Share of the questions with gold ids that have a gold passage in their top k; null when none has gold ids. */
  goldRetrieved: number | null;
  /** Contrastive term inputs (null when disabled or no question has a gold passage in the corpus). */
  contrastive: ContrastiveInputs | null;
}

export interface ContrastiveInputs {
  /** Questions (rows of the batch) that take part. */
  rows: number[];
  /** Gold passage text of each row (embedded with gradient in 'reindex' mode). */
  texts: string[];
  /** 'frozen' mode: the stored gold vectors [R, D]; 'reindex': null. */
  vectors: tf.Tensor2D | null;
  /** [R, R] 1 where passage j is also gold for row i (j ≠ i): not a negative. */
  exclude: number[][];
}

/** Retrieves for a batch of questions and builds the generator rows (no gradient; runs at collate time). */
export async function collateE2E(
  m: E2EModels,
  examples: readonly QaExample[],
  indices: readonly number[],
  c: E2ETrainConfig,
): Promise<E2EBatch> {
  const batch = indices.map((i) => examples[i]!);
  const questions = batch.map((e) => e.question);
  const k = Math.min(c.k, m.passages.size);
  const hits = await m.passages.retrieve(m.encoder, questions, { k, efSearch: Math.max(c.efSearch, k) });
  hits.forEach((h, b) => {
    if (h.length !== k)
      throw new Error(
        `end-to-end: the index returned ${h.length} passages for "${questions[b]}", expected k = ${k} (raise efSearch or use index 'exact')`,
      );
  });
  const maxLen = Math.min(c.maxSeqLength, m.model.maxPositions ?? Infinity);
  const rows: EncodedExample[] = [];
  const answerTokens: number[] = [];
  batch.forEach((ex, b) => {
    hits[b]!.forEach((h, i) => {
      const passages = [{ id: h.id, text: h.passage.text, title: h.passage.title }];
      const row = encodeExample(
        m.model,
        m.tokenizer,
        m.format,
        { question: ex.question, answer: ex.answers[0]!, passages, hasGold: false },
        maxLen,
        c.maxAnswerTokens,
      );
      rows.push(row);
      if (i === 0) answerTokens.push(row.mask.reduce((a, v) => a + v, 0));
    });
  });
  const pad = m.model.specialTokens.pad ?? m.model.specialTokens.eos[0] ?? 0;
  const gold = batch.map((ex) => new Set(ex.positiveIds ?? []));
  const withGold = batch.map((_, b) => b).filter((b) => gold[b]!.size > 0);
  const retrievedGold = withGold.filter((b) => hits[b]!.some((h) => gold[b]!.has(h.id))).length;
  const passageIds = hits.map((hs) => hs.map((h) => h.id));
  const frozen = c.passageMode === 'frozen';
  return {
    questions,
    passageIds,
    passageTexts: hits.map((hs) => hs.map((h) => h.passage.text)),
    passageVectors: frozen
      ? tf.tensor3d(stack(passageIds.flat().map((id) => m.passages.vector(id))), [batch.length, k, m.encoder.dim])
      : null, // [B, K, D]
    lm: collateLm(rows, pad),
    answerTokens: tf.tensor1d(answerTokens, 'float32'),
    goldMask: tf.tensor2d(
      passageIds.map((ids, b) => ids.map((id) => (gold[b]!.has(id) ? 1 : 0))),
      undefined,
      'float32',
    ),
    goldRows: retrievedGold,
    goldRetrieved: withGold.length ? retrievedGold / withGold.length : null,
    contrastive: c.contrastiveWeight > 0 ? contrastiveInputs(m, batch, frozen) : null,
  };
}

/** Concatenates equal-length vectors into one row-major array. */
function stack(vectors: readonly Float32Array[]): Float32Array {
  const dim = vectors[0]?.length ?? 0;
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => out.set(v, i * dim));
  return out;
}

function contrastiveInputs(m: E2EModels, batch: readonly QaExample[], frozen: boolean): ContrastiveInputs | null {
  const rows: number[] = [];
  const goldIds: string[] = [];
  batch.forEach((ex, b) => {
    const id = (ex.positiveIds ?? []).find((p) => m.passages.has(p));
    if (id === undefined) return;
    rows.push(b);
    goldIds.push(id);
  });
  if (rows.length === 0) return null;
  const positives = rows.map((b) => new Set(batch[b]!.positiveIds));
  return {
    rows,
    texts: goldIds.map((id) => m.passages.passage(id)!.text),
    vectors: frozen
      ? tf.tensor2d(stack(goldIds.map((id) => m.passages.vector(id))), [rows.length, m.encoder.dim])
      : null, // [R, D]
    exclude: rows.map((_, i) => goldIds.map((id, j) => (j !== i && positives[i]!.has(id) ? 1 : 0))),
  };
}

/**
 * s_i = cos(q, d_i) [B, K]: queries embedded with gradient; passages from the stored vectors
 * ('frozen') or embedded with gradient ('reindex'). Also returns the normalised queries [B, D].
 */
export function e2eRetrievalScores(
  encoder: Encoder,
  b: E2EBatch,
  training: boolean,
): { scores: tf.Tensor2D; queries: tf.Tensor2D } {
  return tf.tidy(() => {
    const B = b.questions.length;
    const K = b.passageIds[0]!.length;
    const q = l2Normalize(encoder.encodeTensor(b.questions, { kind: 'query', training })) as tf.Tensor2D; // [B, D]
    const d =
      b.passageVectors ??
      tf.reshape(encoder.encodeTensor(b.passageTexts.flat(), { kind: 'passage', training }), [B, K, -1]); // [B, K, D]
    const scores = tf.sum(tf.mul(tf.expandDims(q, 1), l2Normalize(d)), -1) as tf.Tensor2D; // [B, K]
    return { scores, queries: q };
  });
}

/** log p(y_b | q_b, d_i) [B, K]: the summed log-likelihood of the answer tokens (+ eos) of row b·K + i. */
export function e2eAnswerLogLik(model: CausalLM, b: E2EBatch, training: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const { logits } = model.forward(b.lm.inputIds, { attentionMask: b.lm.attentionMask, training }); // [B·K, T, V]
    const ll = sequenceLogLikelihood(logits as tf.Tensor3D, b.lm.targets, b.lm.lossMask); // [B·K]
    return tf.reshape(ll, [b.questions.length, b.passageIds[0]!.length]) as tf.Tensor2D; // [B, K]
  });
}

/**
 * The micro-batch loss: mean_b L_rag(q_b, y_b) (+ contrastiveWeight · InfoNCE). Logged metrics:
 * `rag_nll`, `contrastive` (when on), `p_gold` (mean p(d_gold|q) within the top k, over the
 * questions with a retrieved gold passage) and `gold_retrieved` (share with a gold passage in the top k).
 */
export function e2eLoss(
  m: Pick<E2EModels, 'encoder' | 'model'>,
  b: E2EBatch,
  c: E2ETrainConfig,
  training: boolean,
): LossOutput {
  return tf.tidy(() => {
    const { scores, queries } = e2eRetrievalScores(m.encoder, b, training); // [B, K], [B, D]
    const logLik = e2eAnswerLogLik(m.model, b, training); // [B, K]
    const rag = ragSequenceLoss(
      scores,
      logLik,
      c.retrievalTemperature,
      c.normalizeByAnswerLength ? b.answerTokens : undefined,
    );
    const metrics: Record<string, tf.Scalar> = { rag_nll: tf.clone(rag) }; // a copy: the loop disposes loss and metrics separately
    let loss: tf.Scalar = rag;
    if (b.contrastive && c.contrastiveWeight > 0) {
      const ct = b.contrastive;
      const qRows = tf.gather(queries, ct.rows); // [R, D]
      const p = l2Normalize(
        ct.vectors ?? m.encoder.encodeTensor(ct.texts, { kind: 'passage', training }),
      ) as tf.Tensor2D; // [R, D]
      const nce = infoNceLoss(
        qRows,
        p,
        { scale: c.contrastiveScale, symmetric: false },
        tf.tensor2d(ct.exclude, [ct.rows.length, ct.rows.length], 'float32'),
      );
      metrics.contrastive = nce;
      loss = tf.add(loss, tf.mul(nce, c.contrastiveWeight));
    }
    // p(d_gold | q) summed over gold passages in the top k, averaged over questions that have one.
    if (b.goldRows > 0) {
      const prior = tf.softmax(tf.div(scores, c.retrievalTemperature), -1); // [B, K]
      metrics.p_gold = tf.div(tf.sum(tf.mul(prior, b.goldMask)), b.goldRows) as tf.Scalar; // questions without gold add 0
    }
    if (b.goldRetrieved !== null) metrics.gold_retrieved = tf.scalar(b.goldRetrieved);
    return { loss, metrics };
  });
}

export interface E2ETrainHooks extends TrainCallbacks {
  /** Evaluation (the encoder's fingerprint is refreshed before it runs). */
  evaluate?: (step: number) => Promise<Record<string, number>>;
  /** Called after each index rebuild ('reindex' mode) with its duration. */
  onReindex?: (step: number, ms: number) => void;
}

export interface E2ETrainResult extends TrainResult {
  /** The passage index as it stands after training ('frozen': the starting encoder's vectors). The caller disposes it. */
  passages: PassageVectorIndex;
  /** Index rebuilds done in this call. */
  reindexes: number;
}

/** Freezes every trainable parameter of `store`; returns the function that restores them. */
function freeze(store: ParamStore): () => void {
  const was = new Set(store.trainableByName().keys());
  store.setTrainable(false);
  return () => store.setTrainable(true, (n) => was.has(n));
}

/**
 * Trains `encoder` (query side, or both sides in 'reindex' mode) and `model` in place on
 * question–answer pairs, retrieving from `corpus`. On resume the caller passes the STARTING
 * models again: in 'frozen' mode the passage vectors are taken from them before the checkpoint's
 * weights are loaded; in 'reindex' mode the index is rebuilt from the restored weights.
 */
export async function trainEndToEnd(
  encoder: Encoder,
  model: CausalLM,
  tokenizer: Tokenizer,
  format: PromptFormat,
  examples: readonly QaExample[],
  corpus: readonly Passage[],
  partial: Partial<E2ETrainConfig> = {},
  hooks: E2ETrainHooks = {},
): Promise<E2ETrainResult> {
  const c = validateE2ETrainConfig(partial);
  if (examples.length === 0) throw new Error('trainEndToEnd: no training examples');
  examples.forEach((ex, i) => {
    if (!ex.answers[0]?.trim()) throw new Error(`trainEndToEnd: example ${i} (id ${ex.id}) has an empty first answer`);
  });
  if (corpus.length < c.k)
    throw new Error(`trainEndToEnd: the corpus has ${corpus.length} passages, fewer than k = ${c.k}`);
  if (c.lora && c.trainGenerator && !model.params.names().some((n) => n.includes('.lora_'))) applyLora(model, c.lora);

  const restore: (() => void)[] = [];
  if (!c.trainRetriever) restore.push(freeze(encoder.params));
  if (!c.trainGenerator) restore.push(freeze(model.params));
  let passages: PassageVectorIndex | null = null;
  let reindexes = 0;
  let rebuildOnFirstBatch = false;
  try {
    passages = await PassageVectorIndex.build(encoder, corpus, { index: c.index });
    const m: E2EModels = { encoder, model, tokenizer, format, passages };
    const rebuild = async (step: number) => {
      const ms = await m.passages.rebuild(encoder);
      reindexes++;
      hooks.onReindex?.(step, ms);
      return ms;
    };
    const evaluate = hooks.evaluate;
    const result = await train<E2EBatch>(
      {
        params: { retriever: encoder.params, generator: model.params },
        inputs: {
          data: examples,
          passages: corpus.map((p) => [p.id, p.text]),
          retrieverTokenizer: encoder.tokenizer.toJSON(),
          generatorTokenizer: tokenizer.toJSON(),
          recipe: recipeSettings(c),
        },
        dataset: {
          size: examples.length,
          collate: async (idx, ctx) => {
            if (rebuildOnFirstBatch) {
              rebuildOnFirstBatch = false;
              await rebuild(ctx.step);
            }
            return collateE2E(m, examples, idx, c);
          },
        },
        loss: (b, ctx) => e2eLoss(m, b, c, ctx.training),
        afterStep: async (step) => {
          if (c.passageMode !== 'reindex' || step % c.reindexEvery !== 0) return;
          const ms = await rebuild(step);
          return { event: 'reindex', reindex_ms: ms, reindexed_passages: m.passages.size };
        },
        evaluate: evaluate
          ? async (step) => {
              await encoder.ensureFingerprint(); // readable on webgpu too (elsewhere the getter follows params.version)
              return evaluate(step);
            }
          : undefined,
        saveExtra: () => ({ passageMode: c.passageMode }),
        restoreExtra: (extra) => {
          if (extra.passageMode !== undefined && extra.passageMode !== c.passageMode) {
            throw new Error(
              `resume: the checkpoint was trained with passageMode '${String(extra.passageMode)}', this run asks for '${c.passageMode}'`,
            );
          }
          // Resumed weights differ from the ones the index was built with: re-embed ('reindex' only;
          // 'frozen' keeps the starting encoder's vectors by design).
          if (c.passageMode === 'reindex') rebuildOnFirstBatch = true;
        },
      },
      c,
      hooks,
    );
    return { ...result, passages, reindexes };
  } catch (e) {
    passages?.dispose();
    throw e;
  } finally {
    for (const r of restore) r();
  }
}
