import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { initEngine, Rng, trainByteLevelBPE, trainWordPiece, type Tokenizer } from '@dalm/core';
import { createCausalLM, validatePromptFormat, type CausalLM } from '@dalm/generator';
import { createEncoder, type Encoder, type Passage } from '@dalm/retriever';
import { trainGenerator, encodeExample } from '../src/recipes/generator';
import { collateE2E, e2eLoss, trainEndToEnd, validateE2ETrainConfig, type E2EModels } from '../src/recipes/e2e';
import { PassageVectorIndex } from '../src/recipes/e2e-index';
import { readMetricLog } from '../src/loop/metric-log';
import type { QaExample } from '../src/data/qa';

/**
 * A synthetic domain: made-up countries, each with its own capital, one passage each. The answer
 * to "What is the capital of X?" can only be read from X's passage, so a generator that has
 * learned to read tells the retriever which passage was the right one.
 */
const SYL = ['ka', 'lo', 'mi', 'ra', 'to', 'ne', 'vu', 'si', 'da', 'po', 'ze', 'bi'];
const CITIES = [
  'Amber',
  'Birch',
  'Cedar',
  'Dune',
  'Ember',
  'Frost',
  'Grove',
  'Harbor',
  'Iris',
  'Jade',
  'Kelp',
  'Lumen',
  'Moss',
  'Nectar',
  'Onyx',
  'Pine',
  'Quartz',
  'Reed',
  'Slate',
  'Thorn',
  'Umber',
  'Vale',
  'Willow',
  'Yarrow',
  'Zephyr',
  'Aspen',
  'Basalt',
  'Coral',
  'Delta',
  'Elm',
];

interface Country {
  country: string;
  capital: string;
}

function countries(n: number, seed: number): Country[] {
  const rng = new Rng(seed);
  const seen = new Set<string>();
  const out: Country[] = [];
  while (out.length < n) {
    let w = '';
    for (let i = 0; i < 3; i++) w += SYL[rng.int(SYL.length)];
    const country = w[0]!.toUpperCase() + w.slice(1);
    if (seen.has(country)) continue;
    seen.add(country);
    out.push({ country, capital: CITIES[out.length % CITIES.length]! }); // the first 30 capitals are distinct
  }
  return out;
}

const passageText = (d: Country) => `The capital of ${d.country} is ${d.capital}.`;
const questionText = (d: Country) => `What is the capital of ${d.country}?`;
/** A short prompt format keeps generator rows short (and the test fast). */
const FORMAT = validatePromptFormat({
  instruction: '',
  passageTemplate: '{text}\n',
  questionTemplate: '{question}\n',
  answerPrefix: 'A:',
});

// 24 countries for end-to-end training (distinct capitals), 60 others to teach the generator to read.
const ALL = countries(84, 1);
const E2E_DOMAIN = ALL.slice(0, 24);
const READING_DOMAIN = ALL.slice(24);
const CORPUS: Passage[] = E2E_DOMAIN.map((d, i) => ({
  id: `p${i}`,
  text: passageText(d),
  source: `doc${i}`,
  start: 0,
  end: passageText(d).length,
}));
const QA: QaExample[] = E2E_DOMAIN.map((d, i) => ({
  id: `q${i}`,
  question: questionText(d),
  answers: [d.capital],
  positiveIds: [`p${i}`],
}));

let bpe: Tokenizer;
let wordPiece: Tokenizer;

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
  const texts = ALL.flatMap((d) => [passageText(d), questionText(d)]);
  bpe = trainByteLevelBPE([...texts, ...ALL.map((d) => `${questionText(d)}\nA: ${d.capital}`)], { vocabSize: 400 });
  wordPiece = trainWordPiece(texts, { vocabSize: 400 });
});

/** BERT 2x64, no dropout (so gradients and the hand computation are deterministic). */
function tinyEncoder(seed: number): Encoder {
  return createEncoder({
    tokenizer: wordPiece,
    config: {
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 128,
      max_position_embeddings: 64,
      hidden_dropout_prob: 0,
      attention_probs_dropout_prob: 0,
    },
    settings: { maxLength: 64, pooling: 'mean', normalize: true },
    seed,
  });
}

/** Llama 2x64 from scratch. */
function tinyLlama(seed: number): CausalLM {
  return createCausalLM(
    {
      model_type: 'llama',
      vocab_size: bpe.vocabSize,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 128,
      tie_word_embeddings: true,
      bos_token_id: bpe.special.bos,
      eos_token_id: bpe.special.eos,
      pad_token_id: bpe.special.pad,
    },
    seed,
  );
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** log p(answer | prompt(q, d)) from one unpadded forward pass, with the softmax done in JS. */
function handLogLik(model: CausalLM, q: string, answer: string, d: Passage): number {
  const row = encodeExample(
    model,
    bpe,
    FORMAT,
    { question: q, answer, passages: [{ id: d.id, text: d.text }], hasGold: false },
    128,
    16,
  );
  const logits = tf.tidy(() => model.forward(tf.tensor2d([row.input], [1, row.input.length], 'int32')).logits);
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  const V = model.vocabSize;
  let total = 0;
  row.target.forEach((t, pos) => {
    if (!row.mask[pos]) return;
    const slice = data.subarray(pos * V, (pos + 1) * V);
    const max = Math.max(...slice);
    const lse = max + Math.log(slice.reduce((s, x) => s + Math.exp(x - max), 0));
    total += slice[t]! - lse;
  });
  return total;
}

/** Retrieval over the whole corpus with `vectors` as the passage side: recall@1 and mean p(d_gold | q) at temperature τ. */
async function retrievalQuality(encoder: Encoder, vectors: Float32Array[], tau: number) {
  const qs = await encoder.embed(
    QA.map((e) => e.question),
    { kind: 'query' },
  );
  let hits = 0;
  let pGold = 0;
  qs.forEach((q, i) => {
    const s = vectors.map((v) => cosine(q, v) / tau);
    const max = Math.max(...s);
    const z = s.reduce((a, x) => a + Math.exp(x - max), 0);
    pGold += Math.exp(s[i]! - max) / z;
    if (s.indexOf(max) === i) hits++;
  });
  return { recall1: hits / qs.length, pGold: pGold / qs.length };
}

describe('end-to-end RAG training (RAG-sequence marginal)', () => {
  it('computes −log Σ softmax(cos/τ)·exp(loglik) from its parts, and its gradient matches finite differences', async () => {
    const encoder = tinyEncoder(3);
    const model = tinyLlama(4);
    const corpus = CORPUS.slice(0, 3);
    const qa = QA.slice(0, 2);
    const tau = 0.2;
    for (const passageMode of ['frozen', 'reindex'] as const) {
      const c = validateE2ETrainConfig({
        k: 3,
        retrievalTemperature: tau,
        passageMode,
        maxSeqLength: 128,
        maxAnswerTokens: 16,
      });
      const passages = await PassageVectorIndex.build(encoder, corpus, { index: 'exact' });
      const m: E2EModels = { encoder, model, tokenizer: bpe, format: FORMAT, passages };
      const batch = await collateE2E(m, qa, [0, 1], c);
      expect(batch.passageIds.map((ids) => [...ids].sort())).toEqual([
        ['p0', 'p1', 'p2'],
        ['p0', 'p1', 'p2'],
      ]);

      // By hand: cosines from separately embedded texts, log-likelihoods from unpadded single rows.
      const qVecs = await encoder.embed(
        qa.map((e) => e.question),
        { kind: 'query' },
      );
      const pVecs = new Map(corpus.map((p, i) => [p.id, i]));
      const pEmb = await encoder.embed(
        corpus.map((p) => p.text),
        { kind: 'passage' },
      );
      let expected = 0;
      qa.forEach((ex, b) => {
        const ids = batch.passageIds[b]!;
        const s = ids.map((id) => cosine(qVecs[b]!, pEmb[pVecs.get(id)!]!) / tau);
        const ll = ids.map((id) => handLogLik(model, ex.question, ex.answers[0]!, corpus[pVecs.get(id)!]!));
        const max = Math.max(...s);
        const z = s.reduce((a, x) => a + Math.exp(x - max), 0);
        const marginal = s.reduce((a, x, i) => a + (Math.exp(x - max) / z) * Math.exp(ll[i]!), 0);
        expected += -Math.log(marginal) / qa.length;
      });
      const out = e2eLoss(m, batch, c, false) as { loss: tf.Scalar; metrics: Record<string, tf.Scalar> };
      const value = out.loss.dataSync()[0]!;
      expect(Math.abs(value - expected)).toBeLessThan(1e-4 * Math.abs(expected));
      expect(expected).toBeGreaterThan(1); // a real, untrained loss (not a degenerate 0)
      tf.dispose(out as unknown as tf.TensorContainer);

      // Gradient check per parameter group, along its gradient u = g/|g|: (L(θ+εu) − L(θ−εu)) / 2ε ≈ |g|.
      const groups = { retriever: encoder.params.trainableVariables(), generator: model.params.trainableVariables() };
      const lossAt = () => tf.tidy(() => (e2eLoss(m, batch, c, false) as { loss: tf.Scalar }).loss.dataSync()[0]!);
      const { value: v0, grads } = tf.variableGrads(
        () => (e2eLoss(m, batch, c, false) as { loss: tf.Scalar }).loss,
        [...groups.retriever, ...groups.generator],
      );
      v0.dispose();
      const report: string[] = [];
      for (const [group, all] of Object.entries(groups)) {
        const vars = all.filter((v) => grads[v.name]); // BERT's unused pooler gets no gradient
        const norm = Math.sqrt(
          tf.tidy(() => tf.addN(vars.map((v) => tf.sum(tf.square(grads[v.name]!)))).dataSync()[0]!),
        );
        expect(norm).toBeGreaterThan(1e-3);
        const eps = 2e-3;
        const shift = (sign: number) =>
          vars.forEach((v) => tf.tidy(() => v.assign(tf.add(v, tf.mul(grads[v.name]!, (sign * eps) / norm)))));
        shift(1);
        const up = lossAt();
        shift(-2);
        const down = lossAt();
        shift(1);
        const fd = (up - down) / (2 * eps);
        report.push(`${group} |g| ${norm.toFixed(4)} vs finite difference ${fd.toFixed(4)}`);
        expect(Math.abs(fd - norm)).toBeLessThan(0.05 * norm);
      }
      console.log(`${passageMode}: loss ${value.toFixed(5)} (by hand ${expected.toFixed(5)}); ${report.join('; ')}`);
      tf.dispose(grads);
      tf.dispose(batch as unknown as tf.TensorContainer);
      passages.dispose();
    }
    encoder.dispose();
    model.dispose();
  });

  it('the retriever learns from a frozen generator: recall@1 and p(d_gold|q) rise, the generator is untouched', async () => {
    // 1. Teach the generator to read the capital off a passage (other countries than the e2e ones).
    const model = tinyLlama(5);
    const reading = READING_DOMAIN.map((d, i) => ({
      question: questionText(d),
      answer: d.capital,
      passages: [{ id: `r${i}`, text: passageText(d) }],
      hasGold: true,
    }));
    const g = await trainGenerator(model, bpe, FORMAT, reading, {
      steps: 100,
      batchSize: 16,
      learningRate: 5e-3,
      warmupSteps: 10,
      maxSeqLength: 128,
      quiet: true,
    });
    expect(g.losses.at(-1)!).toBeLessThan(0.6);

    // 2. A random query encoder; passage vectors frozen from it.
    const encoder = tinyEncoder(1);
    const tau = 0.05;
    const frozenVectors = await encoder.embed(
      CORPUS.map((p) => p.text),
      { kind: 'passage' },
    );
    const before = await retrievalQuality(encoder, frozenVectors, tau);

    // The RAG term alone gives the query encoder a non-zero gradient (the generator and the passages are constants).
    const c = { k: 4, retrievalTemperature: tau, trainGenerator: false, contrastiveWeight: 0, maxSeqLength: 128 };
    {
      const passages = await PassageVectorIndex.build(encoder, CORPUS, { index: 'exact' });
      const batch = await collateE2E(
        { encoder, model, tokenizer: bpe, format: FORMAT, passages },
        QA,
        [0, 1, 2, 3],
        validateE2ETrainConfig(c),
      );
      const { value, grads } = tf.variableGrads(
        () => (e2eLoss({ encoder, model }, batch, validateE2ETrainConfig(c), true) as { loss: tf.Scalar }).loss,
        encoder.params.trainableVariables(),
      );
      const gNorm = Math.sqrt(
        tf.tidy(() => tf.addN(Object.values(grads).map((t) => tf.sum(tf.square(t)))).dataSync()[0]!),
      );
      expect(gNorm).toBeGreaterThan(1e-3);
      tf.dispose([value, ...Object.values(grads)]);
      tf.dispose(batch as unknown as tf.TensorContainer);
      passages.dispose();
    }

    const generatorBefore = model.params.toHost();
    const trainableBefore = model.params.trainableByName().size;
    const r = await trainEndToEnd(encoder, model, bpe, FORMAT, QA, CORPUS, {
      ...c,
      steps: 40,
      batchSize: 8,
      learningRate: 3e-4,
      warmupSteps: 5,
      quiet: true,
    });
    const after = await retrievalQuality(encoder, frozenVectors, tau);
    console.log(
      `frozen generator: recall@1 ${before.recall1.toFixed(3)} -> ${after.recall1.toFixed(3)}, mean p(d_gold|q) over ${CORPUS.length} passages ${before.pGold.toFixed(4)} -> ${after.pGold.toFixed(4)}`,
    );
    expect(after.recall1).toBeGreaterThanOrEqual(before.recall1 + 0.15);
    expect(after.pGold).toBeGreaterThan(before.pGold * 1.05);

    // Control: the same run with a generator that never learned to read gives the retriever no useful signal.
    const untrained = tinyLlama(5);
    const controlEncoder = tinyEncoder(1);
    const rc = await trainEndToEnd(controlEncoder, untrained, bpe, FORMAT, QA, CORPUS, {
      ...c,
      steps: 40,
      batchSize: 8,
      learningRate: 3e-4,
      warmupSteps: 5,
      quiet: true,
    });
    const control = await retrievalQuality(controlEncoder, frozenVectors, tau);
    console.log(
      `control (untrained generator): recall@1 ${before.recall1.toFixed(3)} -> ${control.recall1.toFixed(3)}`,
    );
    expect(after.recall1).toBeGreaterThan(control.recall1 + 0.3);
    rc.passages.dispose();
    controlEncoder.dispose();
    untrained.dispose();

    // The generator did not move, and its trainable flags are back.
    const generatorAfter = model.params.toHost();
    for (const [name, t] of generatorBefore) expect(generatorAfter.get(name)!.data).toEqual(t.data);
    expect(model.params.trainableByName().size).toBe(trainableBefore);
    // 'frozen' mode: the index still holds the starting encoder's vectors.
    CORPUS.forEach((p, i) => expect(r.passages.vector(p.id)).toEqual(frozenVectors[i]));
    expect(r.reindexes).toBe(0);
    r.passages.dispose();
    encoder.dispose();
    model.dispose();
  });

  it("'reindex' mode rebuilds the index on schedule, logs each rebuild, and changes the passage vectors", async () => {
    const encoder = tinyEncoder(6);
    const model = tinyLlama(7);
    const initial = await encoder.embed(
      CORPUS.map((p) => p.text),
      { kind: 'passage' },
    );
    const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2e-reindex-'));
    const seen: number[] = [];
    const r = await trainEndToEnd(
      encoder,
      model,
      bpe,
      FORMAT,
      QA,
      CORPUS,
      {
        passageMode: 'reindex',
        reindexEvery: 2,
        steps: 6,
        batchSize: 4,
        k: 3,
        learningRate: 1e-3,
        warmupSteps: 1,
        maxSeqLength: 128,
        runDir,
        quiet: true,
      },
      { onReindex: (step) => seen.push(step) },
    );
    expect(seen).toEqual([2, 4, 6]);
    expect(r.reindexes).toBe(3);
    const events = (await readMetricLog(path.join(runDir, 'metrics.jsonl'))).filter((rec) => rec.event === 'reindex');
    expect(events.map((e) => e.step)).toEqual([2, 4, 6]);
    for (const e of events) expect(typeof e.reindex_ms).toBe('number');
    // The stored vectors are the trained encoder's, and differ from the starting ones.
    const now = await encoder.embed(
      CORPUS.map((p) => p.text),
      { kind: 'passage' },
    );
    let maxChange = 0;
    CORPUS.forEach((p, i) => {
      expect(r.passages.vector(p.id)).toEqual(now[i]);
      for (let j = 0; j < initial[i]!.length; j++)
        maxChange = Math.max(maxChange, Math.abs(now[i]![j]! - initial[i]![j]!));
    });
    expect(maxChange).toBeGreaterThan(1e-3);
    expect(r.passages.index.fingerprint).toBe(encoder.fingerprint);
    r.passages.dispose();
    encoder.dispose();
    model.dispose();
    await fsp.rm(runDir, { recursive: true, force: true });
  });

  it('leaks no tensors over steps (both sides trained, contrastive term, HNSW retrieval)', async () => {
    const encoder = tinyEncoder(8);
    const model = tinyLlama(9);
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    const r = await trainEndToEnd(
      encoder,
      model,
      bpe,
      FORMAT,
      QA,
      CORPUS,
      {
        steps: 6,
        batchSize: 4,
        k: 3,
        contrastiveWeight: 0.5,
        index: 'hnsw',
        learningRate: 1e-3,
        warmupSteps: 1,
        maxSeqLength: 128,
        quiet: true,
      },
      {
        onStep: (s) => {
          counts.push(tf.memory().numTensors);
          expect(s.metrics.contrastive).toBeGreaterThan(0);
        },
      },
    );
    expect(r.losses.every(Number.isFinite)).toBe(true);
    // After the first step (AdamW creates its moments), the tensor count stays flat.
    expect(new Set(counts.slice(1)).size).toBe(1);
    r.passages.dispose();
    expect(tf.memory().numTensors).toBe(start);
    encoder.dispose();
    model.dispose();
  });

  it('rejects bad options with the field name', () => {
    expect(() => validateE2ETrainConfig({ passageMode: 'live' as never })).toThrow(
      /passageMode must be one of frozen, reindex/,
    );
    expect(() => validateE2ETrainConfig({ trainRetriever: false, trainGenerator: false })).toThrow(/both false/);
    expect(() => validateE2ETrainConfig({ retrievalTemperature: 0 })).toThrow(/retrievalTemperature/);
    expect(() => validateE2ETrainConfig({ passageMode: 'reindex', trainRetriever: false })).toThrow(/reindex/);
    expect(() => validateE2ETrainConfig({ index: 'flat' as never })).toThrow(/index must be one of exact, hnsw/);
  });
});
