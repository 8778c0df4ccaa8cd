/**
 * Training WordPiece and byte-level BPE on COVID-QA passages: the saved files
 * load in transformers.js with identical ids on held-out text, the layouts are
 * the tokenizers 0.19 ones, compression is real, and training is fast.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BYTE_TO_CHAR,
  loadTokenizer,
  toByteChars,
  trainByteLevelBPE,
  trainWordPiece,
  type ByteLevelBPETokenizer,
  type Tokenizer,
  type WordPieceTokenizer,
} from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpusFile = path.join(path.resolve(repoRoot, '../shared'), 'bench/covidqa/corpus.jsonl');

const TRICKY = [
  'SARS-CoV-2 (COVID-19) binds ACE2; IC50 = 3.5 µM, p<0.05.',
  'Naïve café — “quoted” text… 中文 and emoji 😷🦠',
  '  leading and trailing spaces\tand\ttabs\n\nnew paragraph  ',
  'UNBELIEVABLE!!! [MASK] token and <s> special',
];

describe.skipIf(!existsSync(corpusFile))('trained tokenizers', () => {
  let all: string[];
  let train: string[];
  let heldOut: string[];
  let tmp: string;
  let wp: WordPieceTokenizer;
  let bpe: ByteLevelBPETokenizer;
  let wpJs: Tokenizer;
  let bpeJs: Tokenizer;
  const chars = (xs: string[]) => xs.reduce((a, t) => a + t.length, 0);

  beforeAll(async () => {
    all = readFileSync(corpusFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).text as string);
    train = all.slice(0, 300); // 13 articles
    heldOut = all.slice(2000, 2100); // 4 other articles
    tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-train-tok-'));
    wp = trainWordPiece(train, { vocabSize: 2000 });
    bpe = trainByteLevelBPE(train, { vocabSize: 2000 });
    await wp.save(path.join(tmp, 'wp'));
    await bpe.save(path.join(tmp, 'bpe'));
    wpJs = await loadTokenizer(path.join(tmp, 'wp'));
    bpeJs = await loadTokenizer(path.join(tmp, 'bpe'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('WordPiece: reloaded through transformers.js, ids and decoding are identical on held-out text', () => {
    for (const t of [...heldOut, ...TRICKY]) {
      const ids = wp.encode(t);
      expect(wpJs.encode(t)).toEqual(ids);
      expect(wpJs.encode(t, { addSpecialTokens: false })).toEqual(ids.slice(1, -1));
      expect(wpJs.decode(ids, { skipSpecialTokens: true })).toBe(wp.decode(ids, { skipSpecialTokens: true }));
    }
  });

  it('byte-level BPE: reloaded through transformers.js, ids are identical and decoding is exact', () => {
    for (const t of [...heldOut, ...TRICKY]) {
      const ids = bpe.encode(t);
      expect(bpeJs.encode(t)).toEqual(ids);
      expect(bpe.decode(ids)).toBe(t);
      expect(bpeJs.decode(ids)).toBe(t);
    }
  });

  it('WordPiece layout: BERT specials at 0..4, BertNormalizer, BertPreTokenizer, [CLS] $A [SEP] templates', () => {
    expect(wp.vocabSize).toBe(2000);
    expect(wp.special).toEqual({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    const j = wp.toJSON() as Record<string, any>;
    expect(j.normalizer).toEqual({
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    });
    expect(j.pre_tokenizer).toEqual({ type: 'BertPreTokenizer' });
    expect(j.post_processor.single.map((x: any) => x.SpecialToken?.id ?? `$${x.Sequence.id}`)).toEqual([
      '[CLS]',
      '$A',
      '[SEP]',
    ]);
    expect(j.post_processor.pair.map((x: any) => x.SpecialToken?.id ?? `$${x.Sequence.id}`)).toEqual([
      '[CLS]',
      '$A',
      '[SEP]',
      '$B',
      '[SEP]',
    ]);
    expect(j.model.type).toBe('WordPiece');
    expect(j.decoder).toEqual({ type: 'WordPiece', prefix: '##', cleanup: true });
    expect(j.added_tokens.map((t: any) => [t.id, t.content])).toEqual([
      [0, '[PAD]'],
      [1, '[UNK]'],
      [2, '[CLS]'],
      [3, '[SEP]'],
      [4, '[MASK]'],
    ]);
    // learned pieces: whole domain words and ## continuations
    expect(wp.tokenToId('virus')).toBeDefined();
    expect(
      wp
        .encode('Coronavirus', { addSpecialTokens: false })
        .map((id) => wp.idToToken(id))
        .join(' '),
    ).toMatch(/^corona ##virus$|^coronavirus$/);
  });

  it('byte-level BPE layout: all 256 bytes after the specials, merges as "a b" strings, ByteLevel everywhere', () => {
    expect(bpe.vocabSize).toBe(2000);
    expect(bpe.special).toEqual({ unk: 0, bos: 1, eos: 2, pad: 3 });
    BYTE_TO_CHAR.forEach((c, b) => expect(bpe.tokenToId(c)).toBe(4 + b));
    const j = bpe.toJSON() as Record<string, any>;
    expect(j.normalizer).toBeNull();
    expect(j.pre_tokenizer).toEqual({
      type: 'ByteLevel',
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    });
    expect(j.decoder.type).toBe('ByteLevel');
    expect(j.model.merges).toHaveLength(2000 - 4 - 256);
    expect(j.model.merges.every((m: unknown) => typeof m === 'string' && m.split(' ').length === 2)).toBe(true);
  });

  it('compresses held-out text (tokens per character) and rarely needs [UNK]', () => {
    const count = (tok: Tokenizer) =>
      heldOut.reduce((a, t) => a + tok.encode(t, { addSpecialTokens: false }).length, 0);
    const n = chars(heldOut);
    // raw bytes would be ~1.0 token/char; measured 0.35 (BPE) and 0.32 (WordPiece) with 2000 tokens
    expect(count(bpe) / n).toBeLessThan(0.42);
    expect(count(wp) / n).toBeLessThan(0.38);
    const unk = heldOut.reduce((a, t) => a + wp.encode(t).filter((id) => id === 1).length, 0);
    expect(unk / count(wp)).toBeLessThan(0.005); // measured 0.06%
  });

  it('offsets of trained tokenizers point at the source text', () => {
    for (const t of heldOut.slice(0, 20)) {
      const { ids, offsets } = wp.encodeWithOffsets(t, { addSpecialTokens: false });
      ids.forEach((id, i) => {
        const tok = wp.idToToken(id)!;
        const src = t
          .slice(offsets[i][0], offsets[i][1])
          .toLowerCase()
          .normalize('NFD')
          .replace(/[\u0300-\u036f]/g, '');
        if (tok !== '[UNK]') expect(src).toBe(tok.replace(/^##/, ''));
      });
      // byte-level: the spans tile the text in order; a token's span holds the characters whose first byte it holds
      const b = bpe.encodeWithOffsets(t);
      b.offsets.forEach(([s, e], i) => {
        expect(s).toBe(i === 0 ? 0 : b.offsets[i - 1][1]);
        const tok = bpe.idToToken(b.ids[i])!;
        if (e > s) {
          // tok = [continuation bytes of the previous character] + a prefix of the span's bytes
          const bytes = toByteChars(t.slice(s, e));
          const own = tok.indexOf(bytes[0]); // a lead byte never equals a continuation byte
          expect(own).toBeGreaterThanOrEqual(0);
          expect(bytes.startsWith(tok.slice(own))).toBe(true);
        }
      });
      expect(b.offsets.map(([s, e]) => t.slice(s, e)).join('')).toBe(t);
    }
    expect(wpJs.encodeWithOffsets(heldOut[0])).toEqual(wp.encodeWithOffsets(heldOut[0]));
  });

  it('trains byte-level BPE and WordPiece on the whole corpus (2.3M chars) in seconds', () => {
    let t0 = performance.now();
    const big = trainByteLevelBPE(all, { vocabSize: 8000 });
    const bpeSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const bigWp = trainWordPiece(all, { vocabSize: 8000 });
    const wpSeconds = (performance.now() - t0) / 1000;
    expect(chars(all)).toBeGreaterThan(2_000_000);
    expect(big.vocabSize).toBe(8000);
    expect(bigWp.vocabSize).toBe(8000);
    // measured ~2.5 s each on one core; the bound leaves room for a loaded CI machine
    expect(bpeSeconds).toBeLessThan(30);
    expect(wpSeconds).toBeLessThan(30);
    const t = heldOut[3];
    expect(big.decode(big.encode(t))).toBe(t);
    expect(big.encode(t).length).toBeLessThan(bpe.encode(t).length); // a larger vocabulary compresses more
  });
});

// Needs no corpus: runs even where the shared COVID-QA bench is absent.
describe('tokenizer training options', () => {
  it('validates options, naming the bad one', () => {
    expect(() => trainByteLevelBPE(['x'], { vocabSize: 100 })).toThrow(/vocabSize must be an integer >= 260/);
    expect(() => trainByteLevelBPE(['x'], { vocabSize: 300, minFrequency: 0 })).toThrow(
      /minFrequency must be an integer >= 1/,
    );
    expect(() => trainWordPiece(['x'], { vocabSize: 100, specialTokens: { pad: '[UNK]' } })).toThrow(
      /specialTokens must be 5 distinct/,
    );
    expect(() => trainWordPiece(['x'], { vocabSize: 100, limitAlphabet: 0 })).toThrow(/limitAlphabet/);
    // no pair reaches minFrequency: only specials + bytes
    expect(trainByteLevelBPE(['ab cd'], { vocabSize: 1000, minFrequency: 2 }).vocabSize).toBe(260);
  });
});
