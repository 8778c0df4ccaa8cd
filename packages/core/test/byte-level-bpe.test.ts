/** Byte-level BPE: the byte alphabet, merge order on a hand-made tokenizer, exact UTF-8 round trips, offsets. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BYTE_TO_CHAR,
  ByteLevelBPETokenizer,
  byteLevelBPEFiles,
  fromByteChars,
  loadTokenizer,
  toByteChars,
  type Tokenizer,
} from '../src/index';

// ids: <unk> 0, <s> 1, </s> 2, byte b -> 3 + b, 'ab' 259, 'abc' 260, 'Ġa' 261
const byteId = (ch: string) => 3 + ch.charCodeAt(0); // for ASCII characters
const SPACE = 3 + 0x20; // 'Ġ'
const { json, config } = byteLevelBPEFiles({
  vocab: ['<unk>', '<s>', '</s>', ...BYTE_TO_CHAR, 'ab', 'abc', 'Ġa'],
  merges: [
    ['a', 'b'],
    ['ab', 'c'],
    ['Ġ', 'a'],
  ],
  addedTokens: ['<unk>', '<s>', '</s>'],
  special: { unk: '<unk>', bos: '<s>', eos: '</s>' },
});

/** Deterministic random strings over many scripts (no lone surrogates). */
function randomTexts(n: number, seed: number): string[] {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const ranges: Array<[number, number]> = [
    [0x20, 0x7e],
    [0x00, 0x1f],
    [0xa0, 0xff],
    [0x300, 0x36f],
    [0x391, 0x3c9],
    [0x4e00, 0x4fff],
    [0xac00, 0xac40],
    [0x3040, 0x309f],
    [0x1f300, 0x1f64f],
    [0x200b, 0x200d],
    [0xfe0f, 0xfe0f],
    [0x10000, 0x1000f],
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let t = '';
    const len = 1 + Math.floor(rand() * 40);
    for (let k = 0; k < len; k++) {
      const [lo, hi] = ranges[Math.floor(rand() * ranges.length)];
      t += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
      if (rand() < 0.15) t += ' \n\t  '[Math.floor(rand() * 5)];
    }
    out.push(t);
  }
  return out;
}

const FIXED = [
  'Café naïve façade — “quotes” ½ €5',
  '👩‍👩‍👧‍👦 family, 🇫🇷 flag, 😀😀',
  '中文字符 and 日本語のテキスト, 한국어',
  'tabs\tand\nnewlines\r\n  trailing   ',
  'e\u0301 combining, \u0000 nul, \u200b zero width',
  '',
];

let tmp: string;
let tok: ByteLevelBPETokenizer;
let viaJs: Tokenizer;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-bpe-'));
  tok = ByteLevelBPETokenizer.fromJSON(json, config);
  await tok.save(tmp);
  viaJs = await loadTokenizer(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('byte alphabet', () => {
  it('maps printable bytes to themselves and the rest to U+0100 onward', () => {
    expect(BYTE_TO_CHAR[0x41]).toBe('A');
    expect(BYTE_TO_CHAR[0x20]).toBe('Ġ'); // U+0120
    expect(BYTE_TO_CHAR[0x0a]).toBe('Ċ');
    expect(BYTE_TO_CHAR[0x00]).toBe('Ā'); // U+0100
    expect(BYTE_TO_CHAR[0x7f]).toBe('ġ'); // U+0121
    expect(BYTE_TO_CHAR[0xad]).toBe('Ń'); // U+0143, the last one
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(toByteChars('é😀')).toBe('Ã©ðŁĺĢ');
    expect(fromByteChars('Ã©ðŁĺĢ')).toBe('é😀');
  });
});

describe('hand-made byte-level BPE', () => {
  it('applies merges by rank, not greedily by length', () => {
    expect(tok.encode('abc abd')).toEqual([260, SPACE, 259, byteId('d')]); // ' abd': (a,b) outranks (Ġ,a)
    expect(tok.encode(' a')).toEqual([261]);
    expect(tok.encode('abab aab')).toEqual([259, 259, 261, 259]); // ' aab': (a,b) first, then (Ġ,a)
    expect(tok.encode('<s>abc</s>')).toEqual([1, 260, 2]);
    expect(tok.encode('x', { addSpecialTokens: true })).toEqual([byteId('x')]); // ByteLevel post-processor adds nothing
  });

  it('matches transformers.js on the saved files', () => {
    for (const t of ['abc abd', 'abab aab', '<s>abc</s>', ...FIXED]) {
      expect(viaJs.encode(t), t).toEqual(tok.encode(t));
    }
    expect(viaJs.decode([1, 260, 2], { skipSpecialTokens: true })).toBe('abc');
    expect(tok.decode([1, 260, 2])).toBe('<s>abc</s>');
    expect(tok.decode([1, 260, 2], { skipSpecialTokens: true })).toBe('abc');
  });

  it('round-trips arbitrary UTF-8 exactly (natively and through transformers.js)', () => {
    for (const t of [...FIXED, ...randomTexts(200, 7)]) {
      const ids = tok.encode(t);
      expect(tok.decode(ids)).toBe(t);
      if (t) expect(viaJs.decode(ids)).toBe(t);
      expect(viaJs.encode(t)).toEqual(ids);
      expect(ids).not.toContain(0); // never <unk>: every byte is in the vocabulary
    }
  });

  it('gives in-order offsets; a character belongs to the token holding its first byte', () => {
    const text = 'ab 😀é';
    const { ids, offsets } = tok.encodeWithOffsets(text);
    expect(ids).toEqual([259, SPACE, 243, 162, 155, 131, 198, 172]);
    expect(offsets).toEqual([
      [0, 2],
      [2, 3],
      [3, 5],
      [5, 5],
      [5, 5],
      [5, 5],
      [5, 6],
      [6, 6],
    ]);
  });

  it('rejects layouts it does not implement', () => {
    expect(() => ByteLevelBPETokenizer.fromJSON({ ...json, normalizer: { type: 'NFC' } })).toThrow(
      /a normalizer is not supported/,
    );
    expect(() => byteLevelBPEFiles({ vocab: ['a'], merges: [], addedTokens: [], special: {} })).toThrow(
      /byte symbol "Ā" is missing/,
    );
  });
});
