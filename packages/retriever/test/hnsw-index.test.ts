import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExactIndex, HnswIndex, loadDenseIndex, validateHnswIndexConfig, type Hit, type Passage } from '../src/index';
import { dot, randomUnitVectors, tableCorpus, TableEmbedder } from './stub-embedder';

const N = 2000;
const DIM = 32;
const vectors = randomUnitVectors(N, DIM, 1);
const queries = randomUnitVectors(200, DIM, 2);
const { passages, embedder } = tableCorpus(vectors);

const ids = (hits: Hit[]): string[] => hits.map((h) => h.id);
function recallVsExact(index: HnswIndex, exact: ExactIndex, qs: Float32Array[], k: number, efSearch: number): number {
  let found = 0;
  for (const q of qs) {
    const truth = new Set(ids(exact.searchVector(q, { k })));
    found += ids(index.searchVector(q, { k, efSearch })).filter((id) => truth.has(id)).length;
  }
  return found / (qs.length * k);
}
async function dirDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort())
    out[f] = createHash('sha256')
      .update(await readFile(path.join(dir, f)))
      .digest('hex');
  return out;
}

let tmp: string;
let hnsw: HnswIndex;
let exact: ExactIndex;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'hnsw-'));
  hnsw = await HnswIndex.build(embedder, passages, { metric: 'cosine', M: 16, efConstruction: 200 });
  exact = await ExactIndex.build(embedder, passages, { metric: 'cosine' });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('ExactIndex', () => {
  it('returns the true top k by cosine similarity, with similarity scores', () => {
    const q = queries[0]!;
    const brute = vectors
      .map((v, i) => ({ id: `p${i}`, s: dot(v, q) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, 10);
    const hits = exact.searchVector(q, { k: 10 });
    expect(ids(hits)).toEqual(brute.map((b) => b.id));
    hits.forEach((h, i) => expect(h.score).toBeCloseTo(brute[i]!.s, 5));
  });
  it('stays exact after removals (swap-delete) and additions', async () => {
    const ex = await ExactIndex.build(embedder, passages.slice(0, 300), { metric: 'ip' });
    ex.remove(['p0', 'p150', 'p299']);
    ex.addEmbedded([passages[0]!], [vectors[0]!]);
    const live = [...Array(300).keys()].filter((i) => i !== 150 && i !== 299);
    const q = queries[1]!;
    const brute = live
      .map((i) => ({ id: `p${i}`, s: dot(vectors[i]!, q) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, 20);
    expect(ids(ex.searchVector(q, { k: 20 }))).toEqual(brute.map((b) => b.id));
    expect(ex.size).toBe(298);
  });
  it('saves and loads with identical results', async () => {
    const dir = path.join(tmp, 'exact');
    await exact.save(dir);
    const loaded = await loadDenseIndex(dir, embedder);
    expect(loaded.kind).toBe('exact');
    for (const q of queries.slice(0, 20))
      expect(await loaded.search(q, { k: 10 })).toEqual(exact.searchVector(q, { k: 10 }));
  });
});

describe('HnswIndex', () => {
  it('validates its config, naming the field and valid values', () => {
    expect(validateHnswIndexConfig({})).toEqual({ metric: 'cosine', M: 16, efConstruction: 200, seed: 100 });
    expect(() => validateHnswIndexConfig({ metric: 'l2' as 'ip' })).toThrow(
      'index config: metric must be one of cosine, ip, got l2',
    );
    expect(() => validateHnswIndexConfig({ M: 1 })).toThrow(/M must be an integer in \[2, 1024\], got 1/);
  });

  it('reaches recall@10 ≥ 0.95 against exact search on 2000 random unit vectors', () => {
    const r = recallVsExact(hnsw, exact, queries, 10, 100);
    console.log(`HNSW recall@10 vs exact (M 16, efConstruction 200, efSearch 100, 200 queries): ${r.toFixed(4)}`);
    expect(r).toBeGreaterThanOrEqual(0.95);
    // efSearch is a real knob: a candidate list of only k loses neighbours.
    expect(recallVsExact(hnsw, exact, queries, 10, 10)).toBeLessThan(r);
  });

  it('scores are cosine similarities, and a stored vector finds itself first', async () => {
    const hits = await hnsw.search(vectors[42]!, { k: 3 });
    expect(hits[0]!.id).toBe('p42');
    expect(hits[0]!.score).toBeCloseTo(1, 5);
    expect(hits[0]!.passage).toEqual(passages[42]);
    for (const h of hits) expect(h.score).toBeCloseTo(dot(vectors[Number(h.id.slice(1))]!, vectors[42]!), 5);
    // A text query goes through embedQueries: the table maps "p7" to vectors[7].
    expect((await hnsw.search('p7', { k: 1 }))[0]!.id).toBe('p7');
    expect((await hnsw.searchMany(['p7', 'p8'], { k: 1 })).map(ids)).toEqual([['p7'], ['p8']]);
  });

  it('ip metric scores are raw inner products', async () => {
    const scaled = vectors.slice(0, 200).map((v) => v.map((x) => 3 * x));
    const c = tableCorpus(scaled, 'stub-ip');
    const ip = await HnswIndex.build(c.embedder, c.passages, { metric: 'ip' });
    const hits = await ip.search(vectors[5]!, { k: 1 });
    expect(hits[0]!.id).toBe('p5');
    expect(hits[0]!.score).toBeCloseTo(3, 4);
  });

  it('save → load gives identical results and a manifest that records how it was built', async () => {
    const dir = path.join(tmp, 'idx');
    await hnsw.save(dir);
    expect((await readdir(dir)).sort()).toEqual(['index.bin', 'manifest.json', 'passages.jsonl']);
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'dalm-dense-index',
      version: 1,
      kind: 'hnsw',
      metric: 'cosine',
      dim: 32,
      M: 16,
      efConstruction: 200,
      count: 2000,
      encoderFingerprint: 'stub-v1',
    });
    expect(Number.isNaN(Date.parse(manifest.created))).toBe(false);
    const loaded = await HnswIndex.load(dir, embedder);
    expect(loaded.size).toBe(N);
    for (const q of queries.slice(0, 50))
      expect(loaded.searchVector(q, { k: 10, efSearch: 64 })).toEqual(hnsw.searchVector(q, { k: 10, efSearch: 64 }));
  });

  it('adds and removes passages without a rebuild, growing when full', async () => {
    const c = tableCorpus(vectors.slice(0, 1500));
    const idx = await HnswIndex.build(c.embedder, c.passages);
    const removed = c.passages.slice(0, 100).map((p) => p.id);
    expect(idx.remove([...removed, 'unknown'])).toBe(100);
    expect(idx.size).toBe(1400);
    for (const id of removed) {
      const hits = idx.searchVector(c.embedder.table.get(id)!, { k: 10 });
      expect(ids(hits)).not.toContain(id);
    }
    // 600 new passages: 100 reuse deleted slots, 500 need a resize past the initial 1500.
    const fresh = randomUnitVectors(600, DIM, 3);
    const added: Passage[] = fresh.map((v, i) => {
      c.embedder.set(`new${i}`, v);
      return { id: `new${i}`, text: `new${i}`, source: 'random', start: 0, end: 4 };
    });
    await idx.add(added);
    expect(idx.size).toBe(2000);
    expect(idx.capacity).toBeGreaterThanOrEqual(2000);
    let self = 0;
    for (let i = 0; i < fresh.length; i++) if (idx.searchVector(fresh[i]!, { k: 1 })[0]!.id === `new${i}`) self++;
    expect(self).toBe(600);
    // Recall after churn, against an exact index over the same live set.
    const ex = await ExactIndex.build(c.embedder, [...c.passages.slice(100), ...added]);
    expect(recallVsExact(idx, ex, queries, 10, 100)).toBeGreaterThanOrEqual(0.95);
    // Re-adding an existing id replaces it.
    c.embedder.set('new0', vectors[1999]!);
    await idx.add([{ id: 'new0', text: 'new0', source: 'random', start: 0, end: 4 }]);
    expect(idx.size).toBe(2000);
    expect(idx.searchVector(vectors[1999]!, { k: 1 })[0]!.id).toBe('new0');
    // The churned index survives save → load.
    const dir = path.join(tmp, 'churned');
    await idx.save(dir);
    const loaded = await HnswIndex.load(dir, c.embedder);
    for (const q of queries.slice(0, 20))
      expect(loaded.searchVector(q, { k: 10 })).toEqual(idx.searchVector(q, { k: 10 }));
    loaded.remove(['new1']);
    expect(loaded.size).toBe(1999);
    // After load, a deleted slot is reused instead of growing the graph.
    const cap = loaded.capacity;
    loaded.addEmbedded([{ id: 'again', text: 'again', source: 'random', start: 0, end: 5 }], [fresh[1]!]);
    expect(loaded.capacity).toBe(cap);
    expect(loaded.searchVector(fresh[1]!, { k: 1 })[0]!.id).toBe('again');
  });

  it('refuses an embedder with another fingerprint, naming both', async () => {
    const dir = path.join(tmp, 'idx');
    const other = new TableEmbedder(DIM, 'encoder-v2');
    await expect(HnswIndex.load(dir, other)).rejects.toThrow(
      `index at ${dir} was built with encoder fingerprint "stub-v1", but the given embedder has fingerprint "encoder-v2"`,
    );
    await expect(HnswIndex.load(dir, new TableEmbedder(16, 'stub-v1'))).rejects.toThrow(
      /has dimension 32, but the embedder produces 16/,
    );
  });

  it('refuses to embed with an encoder whose weights changed after the build', async () => {
    const c = tableCorpus(vectors.slice(0, 50), 'weights-v1');
    const idx = await HnswIndex.build(c.embedder, c.passages);
    c.embedder.fingerprint = 'weights-v2';
    expect(idx.fingerprint).toBe('weights-v1');
    await expect(idx.search('p3', { k: 1 })).rejects.toThrow(
      'embedQueries: the index holds vectors from encoder fingerprint "weights-v1", but the embedder now has fingerprint "weights-v2"',
    );
    await expect(idx.add([{ ...c.passages[0]!, id: 'x' }])).rejects.toThrow(
      /embedPassages: .*"weights-v1".*"weights-v2"/,
    );
    expect((await idx.search(vectors[3]!, { k: 1 }))[0]!.id).toBe('p3'); // vectors are the caller's business
  });

  it('gives clear errors for a missing or corrupt directory', async () => {
    await expect(HnswIndex.load(path.join(tmp, 'absent'), embedder)).rejects.toThrow(
      `no index directory at ${path.join(tmp, 'absent')}`,
    );
    const dir = path.join(tmp, 'corrupt');
    await hnsw.save(dir);
    await truncate(path.join(dir, 'index.bin'), 1000);
    await expect(HnswIndex.load(dir, embedder)).rejects.toThrow(
      /corrupt index at .*: index\.bin has 1000 bytes, the manifest records \d+/,
    );
    await hnsw.save(dir);
    const bin = await readFile(path.join(dir, 'index.bin'));
    bin[bin.length - 5] ^= 0xff;
    await writeFile(path.join(dir, 'index.bin'), bin);
    await expect(HnswIndex.load(dir, embedder)).rejects.toThrow(
      /index\.bin does not match the checksum in manifest\.json/,
    );
    await writeFile(path.join(dir, 'manifest.json'), '{"format": "dalm-dense-index", ');
    await expect(HnswIndex.load(dir, embedder)).rejects.toThrow(/corrupt index manifest .*manifest\.json/);
    await rm(path.join(dir, 'manifest.json'));
    await expect(HnswIndex.load(dir, embedder)).rejects.toThrow(/not an index directory: .*manifest\.json is missing/);
  });

  it('a save that fails mid-way leaves the old index intact', async () => {
    const dir = path.join(tmp, 'atomic');
    const c = tableCorpus(vectors.slice(0, 300));
    const idx = await HnswIndex.build(c.embedder, c.passages);
    await idx.save(dir);
    await writeFile(path.join(dir, 'bm25.json'), '{"kept": true}'); // a neighbour's file
    const before = await dirDigest(dir);
    const expected = idx.searchVector(queries[0]!, { k: 10 });

    idx.remove(c.passages.slice(0, 50).map((p) => p.id));
    // Simulate the disk filling up while hnswlib writes index.bin (passages.jsonl is already written by then).
    const native = (idx as unknown as { hnsw: object }).hnsw;
    Object.defineProperty(native, 'writeIndex', {
      value: async (file: string) => {
        await writeFile(file, 'partial');
        throw new Error('ENOSPC: no space left on device (simulated)');
      },
    });
    await expect(idx.save(dir)).rejects.toThrow('ENOSPC');
    expect(await dirDigest(dir)).toEqual(before);
    expect((await readdir(tmp)).filter((f) => f.includes('atomic'))).toEqual(['atomic']); // no temp dirs left
    const reloaded = await HnswIndex.load(dir, c.embedder);
    expect(reloaded.size).toBe(300);
    expect(reloaded.searchVector(queries[0]!, { k: 10 })).toEqual(expected);
    // A successful save keeps the neighbour's file.
    await reloaded.save(dir);
    expect(await readFile(path.join(dir, 'bm25.json'), 'utf8')).toBe('{"kept": true}');
  });
});
