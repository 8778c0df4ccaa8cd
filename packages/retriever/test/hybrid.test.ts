import { describe, expect, it } from 'vitest';
import {
  Bm25Index,
  HybridRetrieval,
  fuseRrf,
  validateHybridConfig,
  type Hit,
  type Passage,
  type Retrieval,
} from '../src/index';

const P = (id: string, text = id): Passage => ({ id, text, source: id, start: 0, end: text.length });
const hits = (...ids: string[]): Hit[] => ids.map((id, i) => ({ id, score: 10 - i, passage: P(id) }));

/** A retriever that returns a fixed ranking: it makes the fused order exactly known. */
const fixed = (ids: string[]): Retrieval => ({ search: async (_q, { k }) => hits(...ids).slice(0, k) });

describe('reciprocal-rank fusion', () => {
  it('orders by Σ w/(k + rank): dense [a b c], bm25 [c a d], k 60', () => {
    // a: 1/61 + 1/62 = 0.0325224   c: 1/63 + 1/61 = 0.0322664   b: 1/62 = 0.0161290   d: 1/63 = 0.0158730
    const fused = fuseRrf([hits('a', 'b', 'c'), hits('c', 'a', 'd')], [1, 1], 60);
    expect(fused.map((h) => h.id)).toEqual(['a', 'c', 'b', 'd']);
    expect(fused[0]!.score).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(fused[1]!.score).toBeCloseTo(1 / 63 + 1 / 61, 12);
  });
  it('weights change the order: bm25 weight 2', () => {
    // c: 1/63 + 2/61 = 0.0486600 > a: 1/61 + 2/62 = 0.0486515;  d: 2/63 = 0.0317460 > b: 1/62
    const fused = fuseRrf([hits('a', 'b', 'c'), hits('c', 'a', 'd')], [1, 2], 60);
    expect(fused.map((h) => h.id)).toEqual(['c', 'a', 'd', 'b']);
  });
  it('breaks exact ties by best single rank, then id', () => {
    expect(fuseRrf([hits('b', 'a'), hits('a', 'b')], [1, 1], 60).map((h) => h.id)).toEqual(['a', 'b']);
    // x and y are each first in one list: equal scores 1/61, equal best rank 1 → id order
    expect(fuseRrf([hits('x'), hits('y')], [1, 1], 60).map((h) => h.id)).toEqual(['x', 'y']);
  });
  it('validates its config', () => {
    expect(validateHybridConfig({ weights: { dense: 0.5, bm25: 1 } })).toEqual({
      method: 'rrf',
      k: 60,
      weights: { dense: 0.5, bm25: 1 },
      candidates: 100,
    });
    expect(() => validateHybridConfig({ weights: { dense: 0, bm25: 0 } })).toThrow(/cannot both be 0/);
    expect(() => validateHybridConfig({ k: -1 })).toThrow(/k must be a number ≥ 0, got -1/);
  });
});

describe('HybridRetrieval', () => {
  it('fuses two retrievers and cuts to k', async () => {
    const h = new HybridRetrieval(fixed(['a', 'b', 'c']), fixed(['c', 'a', 'd']), { k: 60 });
    expect((await h.search('q', { k: 3 })).map((x) => x.id)).toEqual(['a', 'c', 'b']);
    expect((await h.searchMany(['q1', 'q2'], { k: 1 })).map((r) => r.map((x) => x.id))).toEqual([['a'], ['a']]);
  });
  it('works with a real BM25 side', async () => {
    const bm = Bm25Index.build([
      P('p1', 'masks reduce transmission'),
      P('p2', 'vaccines reduce severity'),
      P('p3', 'unrelated'),
    ]);
    // bm25 "masks transmission" → [p1]; dense stub → [p2, p1]. p1: 1/61 + 1/62 beats p2: 1/61.
    const h = new HybridRetrieval(fixed(['p2', 'p1']), bm);
    expect((await h.search('masks transmission', { k: 2 })).map((x) => x.id)).toEqual(['p1', 'p2']);
  });
});
