/**
 * Fusion by normalised scores, and fusion chosen on validation data: hand-computed rankings where
 * the expected nDCG@10 of every grid point is known, and an index directory whose fusion.json
 * round-trips and drives hybrid search.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildIndexDir,
  fuseScores,
  HybridRetrieval,
  IndexDir,
  normalizeScores,
  readFusionFile,
  tuneFusion,
  validateFusionTuneConfig,
  writeFusionFile,
  FUSION_FILE,
  type Hit,
  type Passage,
  type Qrels,
  type Retrieval,
} from '../src/index';
import { randomUnitVectors, TableEmbedder } from './stub-embedder';

const P = (id: string, text = id): Passage => ({ id, text, source: id, start: 0, end: text.length });
const scored = (pairs: [string, number][]): Hit[] => pairs.map(([id, score]) => ({ id, score, passage: P(id) }));
/** A retriever with a fixed scored ranking per query. */
const fixed = (lists: Record<string, [string, number][]>): Retrieval => ({
  search: async (q, { k }) => scored(lists[q] ?? []).slice(0, k),
});
const qrelsOf = (rel: Record<string, string>): Qrels =>
  new Map(Object.entries(rel).map(([q, id]) => [q, new Map([[id, 1]])]));
const queriesOf = (rel: Record<string, string>) => Object.keys(rel).map((id) => ({ id, text: id }));
const L3 = 1 / Math.log2(3); // nDCG@10 of a single relevant passage at rank 2
const _L4 = 1 / Math.log2(4); // ... at rank 3

describe('score fusion', () => {
  it('normalises per query: min-max to [0, 1], z-scores; constant lists', () => {
    expect(normalizeScores([10, 5, 0], 'minmax')).toEqual([1, 0.5, 0]);
    expect(normalizeScores([2, 2], 'minmax')).toEqual([1, 1]);
    const z = normalizeScores([3, 1], 'zscore'); // mean 2, population std 1
    expect(z[0]).toBeCloseTo(1, 12);
    expect(z[1]).toBeCloseTo(-1, 12);
    expect(normalizeScores([4, 4, 4], 'zscore')).toEqual([0, 0, 0]);
  });
  it('convex combination of min-max scores; a missing hit gets the list minimum', () => {
    // dense [a 0.9, b 0.5, c 0.1] → [1, 0.5, 0];  bm25 [c 8, d 4, a 0] → [1, 0.5, 0]; b and d missing → 0
    // 0.5·dense + 0.5·bm25: a 0.5, c 0.5, b 0.25, d 0.25 — ties broken by best single rank then id: a (1), c (1) → a, c; b (2), d (2) → b, d
    const fused = fuseScores(
      [
        scored([
          ['a', 0.9],
          ['b', 0.5],
          ['c', 0.1],
        ]),
        scored([
          ['c', 8],
          ['d', 4],
          ['a', 0],
        ]),
      ],
      [0.5, 0.5],
      'minmax',
    );
    expect(fused.map((h) => [h.id, h.score])).toEqual([
      ['a', 0.5],
      ['c', 0.5],
      ['b', 0.25],
      ['d', 0.25],
    ]);
    // weight 0.8 on bm25: c 0.8, d 0.4, a 0.2, b 0.1
    expect(
      fuseScores(
        [
          scored([
            ['a', 0.9],
            ['b', 0.5],
            ['c', 0.1],
          ]),
          scored([
            ['c', 8],
            ['d', 4],
            ['a', 0],
          ]),
        ],
        [0.2, 0.8],
        'minmax',
      ).map((h) => h.id),
    ).toEqual(['c', 'd', 'a', 'b']);
  });
  it('a weight of 0 ranks exactly as the other system, candidates included', async () => {
    const dense = fixed({
      q: [
        ['x', 0.9],
        ['a', 0.8],
      ],
    });
    const bm25 = fixed({
      q: [
        ['a', 3],
        ['b', 3],
        ['c', 1],
      ],
    });
    for (const method of ['rrf', 'minmax', 'zscore'] as const) {
      const h = new HybridRetrieval(dense, bm25, { method, weights: { dense: 0, bm25: 1 } });
      expect((await h.search('q', { k: 10 })).map((x) => x.id)).toEqual(['a', 'b', 'c']);
      const d = new HybridRetrieval(dense, bm25, { method, weights: { dense: 1, bm25: 0 } });
      expect((await d.search('q', { k: 10 })).map((x) => x.id)).toEqual(['x', 'a']);
    }
  });
});

describe('tuneFusion', () => {
  it('BM25 clearly better: RRF cannot beat it, the tuner keeps its score exactly', async () => {
    // q1, q2: BM25 has the relevant passage first, dense third; q3: BM25 second, dense first.
    const rel = { q1: 'r1', q2: 'r2', q3: 'r3' };
    const bm25 = fixed({
      q1: [
        ['r1', 9],
        ['a', 2],
        ['b', 1],
      ],
      q2: [
        ['r2', 9],
        ['a', 2],
        ['b', 1],
      ],
      q3: [
        ['a', 9],
        ['r3', 2],
        ['b', 1],
      ],
    });
    const dense = fixed({
      q1: [
        ['a', 0.9],
        ['b', 0.8],
        ['r1', 0.7],
      ],
      q2: [
        ['a', 0.9],
        ['b', 0.8],
        ['r2', 0.7],
      ],
      q3: [
        ['r3', 0.9],
        ['a', 0.8],
        ['b', 0.7],
      ],
    });
    const choice = await tuneFusion(dense, bm25, queriesOf(rel), qrelsOf(rel), { methods: ['rrf'] });
    // BM25 (1 + 1 + 1/log2 3)/3 = 0.876977; dense (1/2 + 1/2 + 1)/3 = 0.666667.
    expect(choice.validation.bm25).toBeCloseTo((2 + L3) / 3, 12);
    expect(choice.validation.dense).toBeCloseTo(2 / 3, 12);
    // RRF puts r3 first only for w_dense > 1/2, and r1 first only for w_dense < 63/187 = 0.3369: never both.
    expect(choice.validation.score).toBeCloseTo((2 + L3) / 3, 12);
    expect(choice.hybrid).toMatchObject({ method: 'rrf', weights: { dense: 0, bm25: 1 } });
    const at = (w: number) => choice.grid.find((g) => g.weights.dense === w)!.score;
    expect(at(0.3)).toBeCloseTo((2 + L3) / 3, 12); // r1, r2 first; r3 second
    expect(at(0.4)).toBeCloseTo((L3 + L3 + L3) / 3, 12); // a overtakes r1 and r2 at w 0.4; r3 still second
    expect(at(0.6)).toBeCloseTo((L3 + L3 + 1) / 3, 12);
    expect(at(1)).toBeCloseTo(2 / 3, 12);
  });

  it('complementary systems: min-max fusion beats both endpoints; exact grid scores', async () => {
    // q1: BM25 sure of r1 (10 vs 1), dense nearly ties (0.89 vs 0.9). q2: the reverse.
    const rel = { q1: 'r1', q2: 'r2' };
    const bm25 = fixed({
      q1: [
        ['r1', 10],
        ['a', 1],
        ['z', 0],
      ],
      q2: [
        ['a', 5],
        ['r2', 4.9],
        ['z', 0],
      ],
    });
    const dense = fixed({
      q1: [
        ['a', 0.9],
        ['r1', 0.89],
        ['z', 0],
      ],
      q2: [
        ['r2', 0.9],
        ['a', 0.1],
        ['z', 0],
      ],
    });
    const choice = await tuneFusion(dense, bm25, queriesOf(rel), qrelsOf(rel));
    expect(choice.grid).toHaveLength(33); // 3 methods × 11 weights
    const single = (1 + L3) / 2; // 0.815465: each system gets one of the two first
    expect(choice.validation.bm25).toBeCloseTo(single, 12);
    expect(choice.validation.dense).toBeCloseTo(single, 12);
    // min-max: r1 first iff 0.9(1 − w) > (1/89)·w, i.e. w < 0.9878; r2 first iff 0.889w > 0.02(1 − w), i.e. w > 0.0220.
    const mm = choice.grid.filter((g) => g.method === 'minmax');
    expect(mm.map((g) => g.weights.dense)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(mm[0]!.score).toBeCloseTo(single, 12);
    for (const g of mm.slice(1, 10)) expect(g.score).toBe(1);
    expect(mm[10]!.score).toBeCloseTo(single, 12);
    // RRF at w = 0.5: equal fused scores, tie-break by id puts the distractor "a" first in both queries.
    expect(choice.grid.find((g) => g.method === 'rrf' && g.weights.dense === 0.5)!.score).toBeCloseTo(L3, 12);
    // The first grid point with the best score wins.
    expect(choice.hybrid).toEqual({ method: 'minmax', k: 60, weights: { dense: 0.1, bm25: 0.9 }, candidates: 100 });
    expect(choice.validation).toMatchObject({ queries: 2, skipped: 0, score: 1 });
    // Every endpoint equals its single system, whatever the method.
    for (const g of choice.grid) {
      if (g.weights.dense === 0) expect(g.score).toBeCloseTo(choice.validation.bm25, 12);
      if (g.weights.dense === 1) expect(g.score).toBeCloseTo(choice.validation.dense, 12);
    }
  });

  it('validates its grid', () => {
    expect(validateFusionTuneConfig({ denseWeights: [0.5] }).denseWeights).toEqual([0, 0.5, 1]);
    expect(() => validateFusionTuneConfig({ denseWeights: [1.5] })).toThrow(
      /dense weights must be numbers in \[0, 1\], got 1.5/,
    );
    expect(() => validateFusionTuneConfig({ methods: ['max' as never] })).toThrow(
      /unknown method "max" \(valid: rrf, minmax, zscore\)/,
    );
  });
});

describe('fusion.json in an index directory', () => {
  it('round-trips, is used by hybrid retrieval without explicit options, and yields to explicit ones', async () => {
    // 40 passages with distinct words; queries name their passage's word (BM25 finds it), the
    // dense side is random vectors (dense finds it only when the query vector is the passage's).
    const n = 40;
    const vecs = randomUnitVectors(n + 10, 16, 5);
    const embedder = new TableEmbedder(16, 'stub-fusion');
    const passages: Passage[] = [];
    for (let i = 0; i < n; i++) {
      const text = `passage ${i} about word${i} and shared filler text`;
      passages.push(P(`p${i}`, text));
      embedder.set(text, vecs[i]!);
    }
    const rel: Record<string, string> = {};
    for (let i = 0; i < 10; i++) {
      const q = `which word${i} filler`;
      rel[q] = `p${i}`;
      embedder.set(q, i < 5 ? vecs[i]! : vecs[n + i]!); // dense right on half of the queries
    }
    const queries = Object.keys(rel).map((q) => ({ id: q, text: q }));
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dalm-fusion-')), 'index');
    await buildIndexDir(dir, passages, embedder, { denseKind: 'exact' });
    const opened = await IndexDir.open(dir, embedder);
    expect(opened.fusion).toBeNull();
    expect(opened.hybridConfig().source).toBe('default');
    const choice = await tuneFusion(
      opened.dense!,
      opened.bm25,
      queries,
      qrelsOf(rel),
      {},
      { passageIds: passages.map((p) => p.id) },
    );
    expect(choice.validation.score).toBeGreaterThanOrEqual(Math.max(choice.validation.bm25, choice.validation.dense));
    expect(choice.validation.score).toBe(Math.max(...choice.grid.map((g) => g.score)));
    expect(choice.encoderFingerprint).toBe('stub-fusion');
    expect(await writeFusionFile(dir, choice)).toBe(path.join(dir, FUSION_FILE));
    expect(await readFusionFile(dir)).toEqual(choice);
    opened.dispose();

    const index = await IndexDir.open(dir, embedder);
    expect(index.fusion).toEqual(choice);
    expect(index.hybridConfig()).toEqual({ config: choice.hybrid, source: 'fusion.json' });
    const tuned = new HybridRetrieval(index.dense!, index.bm25, choice.hybrid);
    for (const q of queries)
      expect(await index.retrieval('hybrid').search(q.text, { k: 10 })).toEqual(await tuned.search(q.text, { k: 10 }));
    const explicit = index.hybridConfig({ weights: { dense: 1, bm25: 1 } });
    expect(explicit).toEqual({
      config: { method: 'rrf', k: 60, weights: { dense: 1, bm25: 1 }, candidates: 100 },
      source: 'explicit',
    });
    index.dispose();

    writeFileSync(
      path.join(dir, FUSION_FILE),
      JSON.stringify({ ...choice, hybrid: { ...choice.hybrid, method: 'max' } }),
    );
    await expect(IndexDir.open(dir, embedder)).rejects.toThrow(
      `${path.join(dir, FUSION_FILE)}: hybrid config: method must be one of rrf, minmax, zscore, got max`,
    );
    // A fusion tuned for another encoder's index is refused, not silently applied ...
    await writeFusionFile(dir, { ...choice, encoderFingerprint: 'old-encoder' });
    await expect(IndexDir.open(dir, embedder)).rejects.toThrow(
      `${path.join(dir, FUSION_FILE)}: tuned for encoder old-encoder, but the dense index is from stub-fusion`,
    );
    // ... and rebuilding the index directory removes it.
    await buildIndexDir(dir, passages, embedder, { denseKind: 'exact' });
    expect(existsSync(path.join(dir, FUSION_FILE))).toBe(false);
  });
});
