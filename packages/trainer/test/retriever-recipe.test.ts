import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { initEngine, trainWordPiece } from '@dalm/core';
import {
  createEncoder,
  loadCovidQaDataset,
  ExactIndex,
  IrEvaluator,
  type Encoder,
  type Passage,
} from '@dalm/retriever';
import { ictPairs } from '../src/data/ict';
import {
  trainRetriever,
  gradCacheGradients,
  collateContrastive,
  validateRetrieverTrainConfig,
} from '../src/recipes/retriever';

const shared = path.resolve(__dirname, '../../../../shared');
const covid = path.join(shared, 'bench/covidqa');

let corpus: Passage[] = [];
beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
  if (existsSync(covid)) corpus = (await loadCovidQaDataset(covid, 'dev')).corpus;
});

function tinyEncoder(texts: string[], seed: number): Encoder {
  const tokenizer = trainWordPiece(texts, { vocabSize: 3000 });
  return createEncoder({
    tokenizer,
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

describe.skipIf(!existsSync(covid))('contrastive retriever training on COVID-QA passages (ICT)', () => {
  it('lowers the InfoNCE loss and raises held-out MRR@10 by a clear margin', async () => {
    // Passages cut to their first 60 words, so every ICT query lies inside the 64-token window.
    const short = (p: Passage) => ({ ...p, text: p.text.split(/\s+/).slice(0, 60).join(' ') });
    const train = corpus.slice(0, 800).map(short);
    const held = corpus.slice(2000, 2200).map(short);
    const encoder = tinyEncoder(
      corpus.slice(0, 1500).map((p) => p.text),
      1,
    );
    const pairs = ictPairs(train, { removeRate: 0.5, seed: 1 });
    // Held-out queries: one sentence per unseen passage, removed from it; rank among the 200 unseen passages.
    const evalPairs = ictPairs(held, { removeRate: 1, seed: 2 });
    const evalPassages = evalPairs.map((p, i) => ({
      ...held.find((h) => h.id === p.positiveId)!,
      text: p.positive,
      id: `e${i}`,
    }));
    const queries = evalPairs.map((p, i) => ({ id: `q${i}`, text: p.query }));
    const qrels = new Map(queries.map((q, i) => [q.id, new Map([[`e${i}`, 1]])]));
    const evaluator = new IrEvaluator(queries, qrels);
    const score = async () => {
      const index = await ExactIndex.build(encoder, evalPassages);
      const m = await evaluator.evaluate(index);
      index.dispose();
      return m['mrr@10'];
    };
    const before = await score();
    const fingerprintBefore = encoder.fingerprint;
    const r = await trainRetriever(encoder, pairs, {
      steps: 80,
      batchSize: 16,
      learningRate: 2e-3,
      warmupSteps: 5,
      scale: 20,
      quiet: true,
    });
    expect(encoder.fingerprint).not.toBe(fingerprintBefore); // followed the optimizer steps by itself (params.version)
    const after = await score();
    const first = r.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = r.losses.slice(-5).reduce((a, b) => a + b) / 5;
    console.log(
      `ICT: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, held-out MRR@10 ${before.toFixed(3)} -> ${after.toFixed(3)}`,
    );
    expect(last).toBeLessThan(first * 0.6);
    expect(after).toBeGreaterThan(before + 0.05);
    encoder.dispose();
  });

  it('GradCache gives the same gradients as plain backprop (dropout off)', async () => {
    const encoder = tinyEncoder(
      corpus.slice(0, 300).map((p) => p.text),
      2,
    );
    const pairs = ictPairs(corpus.slice(0, 40), { seed: 3 }).map((p, i, all) => ({
      ...p,
      negatives: [all[(i + 1) % all.length].positive],
    }));
    const c = validateRetrieverTrainConfig({ gradCacheChunk: 3, hardNegatives: 1, symmetric: true });
    const batch = collateContrastive(pairs, [0, 1, 2, 3, 4, 5, 6, 7], 1);
    const vars = new Map([...encoder.params.trainableByName()].map(([n, v]) => [`retriever/${n}`, v]));
    const cached = await gradCacheGradients(encoder, batch, c, vars);
    const list = [...vars.values()];
    const { infoNceLoss } = await import('../src/losses/info-nce');
    const direct = tf.variableGrads(
      () =>
        infoNceLoss(
          encoder.encodeTensor(batch.queries, { kind: 'query' }),
          encoder.encodeTensor(batch.passages, { kind: 'passage' }),
          { scale: c.scale, symmetric: true },
          tf.tensor2d(batch.exclude),
        ),
      list,
    );
    expect(cached.loss).toBeCloseTo(direct.value.dataSync()[0], 4);
    let maxDiff = 0;
    let maxAbs = 0;
    for (const [name, v] of vars) {
      if (!direct.grads[v.name]) {
        expect(cached.grads.has(name)).toBe(false); // e.g. the pooler, unused by mean pooling
        continue;
      }
      const a = cached.grads.get(name)!.dataSync();
      const b = direct.grads[v.name].dataSync();
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        maxAbs = Math.max(maxAbs, Math.abs(b[i]));
      }
    }
    expect(maxAbs).toBeGreaterThan(1e-4);
    expect(maxDiff).toBeLessThan(1e-4 * Math.max(1, maxAbs));
    encoder.dispose();
  });

  it('excludes duplicate positives from the in-batch negatives', () => {
    const b = collateContrastive(
      [
        { query: 'a', positive: 'P' },
        { query: 'b', positive: 'P' },
        { query: 'c', positive: 'Q', negatives: ['P'] },
      ],
      [0, 1, 2],
      1,
    );
    expect(b.passages).toEqual(['P', 'P', 'Q', 'P']);
    // query a: passage 1 and the negative 3 are the same text as its positive -> excluded
    expect(b.exclude).toEqual([
      [0, 1, 0, 1],
      [1, 0, 0, 1],
      [0, 0, 0, 0],
    ]);
  });
});
