/** WordPiece on a hand-made vocabulary: known segmentations, normalization, offsets, decode, transformers.js parity. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WordPieceTokenizer, bertNormalize, bertPreTokenize, loadTokenizer, type Tokenizer } from '../src/index';

// ids:      0        1        2        3        4         5     6      7        8         9           10      11       12
const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'un',
  'una',
  '##aff',
  '##able',
  '##ffable',
  'play',
  '##ing',
  '##ed',
  // 13     14   15   16      17       18     19    20    21
  'the',
  '!',
  ',',
  'cafe',
  'naive',
  '##s',
  '中',
  '文',
  'οδος',
];

let tmp: string;
let tok: WordPieceTokenizer;
let viaJs: Tokenizer;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-wp-'));
  tok = WordPieceTokenizer.fromVocab(VOCAB);
  await tok.save(tmp);
  viaJs = await loadTokenizer(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CASES: Array<[string, number[]]> = [
  // greedy longest-match-first takes 'una' (not 'un' + '##aff' + '##able')
  ['Unaffable', [2, 6, 9, 3]],
  ['Playing played!', [2, 10, 11, 10, 12, 14, 3]],
  ['plays, playx', [2, 10, 18, 15, 1, 3]], // '##x' is missing, so the whole word is [UNK]
  ['The zebra', [2, 13, 1, 3]],
  ['NAÏVE Café', [2, 17, 16, 3]], // lower-cased, accents stripped
  ['中文', [2, 19, 20, 3]], // CJK ideographs are split apart
  ['[MASK] the', [2, 4, 13, 3]], // added tokens are matched before normalization
  ['   ', [2, 3]],
];

describe('WordPiece on a hand-made vocabulary', () => {
  it('segments known cases', () => {
    for (const [text, ids] of CASES) expect(tok.encode(text), text).toEqual(ids);
    expect(tok.encode('Unaffable', { addSpecialTokens: false })).toEqual([6, 9]);
    expect(tok.special).toEqual({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    expect(tok.vocabSize).toBe(VOCAB.length);
  });

  it('matches transformers.js on the saved tokenizer.json', () => {
    for (const [text, ids] of CASES) {
      expect(viaJs.encode(text), text).toEqual(ids);
      expect(viaJs.encode(text, { addSpecialTokens: false })).toEqual(ids.slice(1, -1));
    }
    for (const ids of [
      [2, 10, 11, 10, 12, 14, 3],
      [2, 13, 1, 15, 3],
      [13, 7, 8],
    ]) {
      expect(tok.decode(ids)).toBe(viaJs.decode(ids));
      expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(viaJs.decode(ids, { skipSpecialTokens: true }));
    }
  });

  it('decodes ## pieces back into words and cleans up spaces before punctuation', () => {
    expect(tok.decode([2, 10, 11, 10, 12, 14, 3])).toBe('[CLS] playing played! [SEP]');
    expect(tok.decode([2, 10, 11, 10, 12, 14, 3], { skipSpecialTokens: true })).toBe('playing played!');
    expect(tok.decode([13, 1, 15], { skipSpecialTokens: true })).toBe('the,'); // [UNK] is special and skipped
  });

  it('gives character offsets into the original text', () => {
    const text = 'Playing NAÏVE Café!';
    const { ids, offsets } = tok.encodeWithOffsets(text);
    expect(ids).toEqual([2, 10, 11, 17, 16, 14, 3]);
    expect(offsets).toEqual([
      [0, 0],
      [0, 4],
      [4, 7],
      [8, 13],
      [14, 18],
      [18, 19],
      [0, 0],
    ]);
    // decomposed accents (e + U+0301) are absorbed into the base letter's span
    const nfd = 'cafe\u0301 x';
    expect(tok.encodeWithOffsets(nfd, { addSpecialTokens: false }).offsets).toEqual([
      [0, 5],
      [6, 7],
    ]);
    // added tokens keep their own span
    expect(tok.encodeWithOffsets('a [MASK]', { addSpecialTokens: false }).offsets).toEqual([
      [0, 1],
      [2, 8],
    ]);
  });

  it('gives the chunk span to the first token where lower-casing depends on context (Greek final sigma)', () => {
    // 'ΟΔΟΣ' lower-cases to 'οδος' with a final ς as a whole, but to 'οδοσ' letter by letter
    expect(
      bertNormalize('ΟΔΟΣ!', { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true }),
    ).toBe('οδος!');
    const { ids, offsets } = tok.encodeWithOffsets('the ΟΔΟΣ!', { addSpecialTokens: false });
    expect(ids).toEqual([13, 21, 14]);
    expect(viaJs.encode('the ΟΔΟΣ!', { addSpecialTokens: false })).toEqual(ids);
    expect(offsets).toEqual([
      [0, 3],
      [4, 9],
      [9, 9],
    ]);
  });

  it('respects cased vocabularies (lowercase: false)', () => {
    const cased = WordPieceTokenizer.fromVocab([...VOCAB, 'Play'], { normalizer: { lowercase: false } });
    expect(cased.encode('Play play', { addSpecialTokens: false })).toEqual([22, 10]);
    expect(cased.encode('Café', { addSpecialTokens: false })).toEqual([1]); // no accent stripping, 'Café' unknown
  });

  it('pre-tokenizes like BertPreTokenizer', () => {
    expect(bertPreTokenize("it's ok... $5 (yes)").map((s) => s.text)).toEqual([
      'it',
      "'",
      's',
      'ok',
      '.',
      '.',
      '.',
      '$',
      '5',
      '(',
      'yes',
      ')',
    ]);
  });

  it('rejects vocabularies without the special tokens', () => {
    expect(() => WordPieceTokenizer.fromVocab(['[PAD]', 'a'])).toThrow(/special token "\[UNK\]" is missing/);
    expect(() => WordPieceTokenizer.fromVocab([...VOCAB, 'the'])).toThrow(/token "the" appears twice/);
  });
});
