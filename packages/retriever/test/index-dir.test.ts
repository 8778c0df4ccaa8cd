import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildIndexDir, IndexDir, recordedRetriever } from '../src/index-dir';
import { randomUnitVectors, tableCorpus, TableEmbedder } from './stub-embedder';

describe('index directories', () => {
  for (const denseKind of ['exact', 'hnsw'] as const) {
    it(`${denseKind}: BM25 + dense in one directory, reopened in every mode, refusing another encoder`, async () => {
      const { passages, embedder } = tableCorpus(randomUnitVectors(50, 8, 3));
      const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dalm-idx-')), 'index');
      await buildIndexDir(dir, passages, embedder, { denseKind }, path.join(dir, '..', 'retriever'));
      expect(await recordedRetriever(dir)).toBe(path.resolve(dir, '..', 'retriever'));
      const index = await IndexDir.open(dir, embedder);
      expect(index.passages().length).toBe(50);
      // The stub maps text p7 to vector 7: dense search for it ranks p7 first with cosine 1.
      const [top] = await index.retrieval('dense').search('p7', { k: 1 });
      expect(top.id).toBe('p7');
      expect(top.score).toBeCloseTo(1, 5);
      expect((await index.retrieval('bm25').search('p7', { k: 1 }))[0].id).toBe('p7');
      expect((await index.retrieval('hybrid').search('p7', { k: 1 }))[0].id).toBe('p7');
      index.dispose();
      const other = new TableEmbedder(8, 'other-weights');
      await expect(IndexDir.open(dir, other)).rejects.toThrow(/other-weights/);
      // Without an encoder only BM25 is available, and the error says what is missing.
      const bm25Only = await IndexDir.open(dir, null);
      expect(() => bm25Only.retrieval('dense')).toThrow(/needs a dense index and its retriever/);
    });
  }
});
