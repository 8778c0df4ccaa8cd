import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Bm25Index, bm25Tokenize, validateBm25Config, type Passage } from '../src/index';

const P = (id: string, text: string, title?: string): Passage => ({
  id,
  text,
  source: id,
  start: 0,
  end: text.length,
  ...(title ? { title } : {}),
});
// Lengths 3, 6, 3 → avgdl 4, N 3. k1 0.9, b 0.4.
const toy = [P('d1', 'The cat sat.'), P('d2', 'the dog sat on the MAT'), P('d3', 'cat, cat; dog')];

const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

describe('bm25Tokenize', () => {
  it('lower-cases and keeps runs of [a-z0-9]', () => {
    expect(bm25Tokenize("COVID-19's R0 (2.5)!")).toEqual(['covid', '19', 's', 'r0', '2', '5']);
  });
});

describe('Bm25Index on a 3-document toy corpus', () => {
  const bm = Bm25Index.build(toy);
  it('uses the documented defaults', () => {
    expect(bm.config).toEqual({ k1: 0.9, b: 0.4, includeTitle: true });
    expect(() => validateBm25Config({ b: 1.5 })).toThrow(/b must be a number in \[0, 1\], got 1.5/);
  });
  it('matches hand-computed scores for "cat"', async () => {
    // idf(cat) = ln(1 + (3-2+0.5)/(2+0.5)) = ln 1.6
    // d1: tf 1, |d| 3: ln1.6 · 1.9 / (1 + 0.9·(0.6 + 0.4·3/4)) = ln1.6 · 1.9/1.81 = 0.4933740
    // d3: tf 2, |d| 3: ln1.6 · 2·1.9 / (2 + 0.81)                  = 0.6355921
    expect(bm.idf('cat')).toBeCloseTo(Math.log(1.6), 12);
    const hits = await bm.search('cat', { k: 10 });
    expect(hits.map((h) => h.id)).toEqual(['d3', 'd1']);
    expect(hits[0]!.score).toBeCloseTo(0.6355921, 6);
    expect(hits[1]!.score).toBeCloseTo(0.493374, 6);
  });
  it('sums over query terms: "cat dog mat"', async () => {
    // idf(mat) = ln(1 + 2.5/1.5) = ln(8/3); d2 (|d| 6): norm = 1 + 0.9·(0.6 + 0.4·6/4) = 2.08
    // d2 = ln1.6·1.9/2.08 + ln(8/3)·1.9/2.08 = 0.4293302 + 0.8959498 = 1.3252800
    // d3 = 0.6355921 + ln1.6·1.9/1.81 = 1.1289661;  d1 = 0.4933740
    const hits = await bm.search('Cat dog mat?', { k: 2 });
    expect(hits.map((h) => h.id)).toEqual(['d2', 'd3']);
    expect(hits[0]!.score).toBeCloseTo(1.32528, 6);
    expect(hits[1]!.score).toBeCloseTo(1.1289661, 6);
    expect(await bm.search('unicorn', { k: 5 })).toEqual([]);
  });
  it('supports remove and add with the statistics updated', async () => {
    const b2 = Bm25Index.build(toy);
    expect(b2.remove(['d2', 'nope'])).toBe(1);
    // N 2, avgdl 3, df(dog) 1: idf = ln 2; d3 norm = 1 + 0.9·(0.6 + 0.4) = 1.9 → score ln 2 exactly.
    const hits = await b2.search('dog', { k: 5 });
    expect(hits.map((h) => h.id)).toEqual(['d3']);
    expect(hits[0]!.score).toBeCloseTo(Math.LN2, 12);
    b2.add([P('d4', 'mat mat dog')]);
    const fresh = Bm25Index.build([toy[0]!, toy[2]!, P('d4', 'mat mat dog')]);
    expect(b2.scores('dog mat cat')).toEqual(fresh.scores('dog mat cat'));
    expect(b2.size).toBe(3);
  });
  it('indexes the title with the text by default', async () => {
    const withTitle = Bm25Index.build([P('t1', 'body words', 'Influenza'), P('t2', 'other words')]);
    expect((await withTitle.search('influenza', { k: 5 })).map((h) => h.id)).toEqual(['t1']);
    const noTitle = Bm25Index.build([P('t1', 'body words', 'Influenza'), P('t2', 'other words')], {
      includeTitle: false,
    });
    expect(await noTitle.search('influenza', { k: 5 })).toEqual([]);
  });
  it('saves and loads with identical scores, keeping other files in the directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bm25-'));
    tmpDirs.push(dir);
    await writeFile(path.join(dir, 'other.txt'), 'keep me');
    await bm.save(dir);
    const loaded = await Bm25Index.load(dir);
    expect(loaded.scores('cat dog mat sat')).toEqual(bm.scores('cat dog mat sat'));
    expect(await readFile(path.join(dir, 'other.txt'), 'utf8')).toBe('keep me');
    await writeFile(path.join(dir, 'bm25.json'), '{oops');
    await expect(Bm25Index.load(dir)).rejects.toThrow(/bm25\.json: corrupt BM25 index file/);
    await expect(Bm25Index.load(path.join(dir, 'missing'))).rejects.toThrow(
      /no BM25 index in .*missing: bm25\.json is missing/,
    );
  });
});
