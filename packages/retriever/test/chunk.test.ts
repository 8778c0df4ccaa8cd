import { describe, expect, it } from 'vitest';
import {
  chunkDocument,
  chunkDocuments,
  validateChunkConfig,
  wordTokenCounter,
  type Document,
  type TokenCounter,
} from '../src/index';

const words = (n: number, from = 0): string => Array.from({ length: n }, (_, i) => `w${from + i}`).join(' ');

describe('wordTokenCounter', () => {
  it('splits words and single punctuation marks, with exact spans', () => {
    const text = 'Hello, wörld: e.g. 3.5';
    expect(wordTokenCounter(text).map(([s, e]) => text.slice(s, e))).toEqual([
      'Hello',
      ',',
      'wörld',
      ':',
      'e',
      '.',
      'g',
      '.',
      '3',
      '.',
      '5',
    ]);
  });
});

describe('chunkDocument', () => {
  it('slides a window of maxTokens with the given overlap, offsets slicing back to the text', () => {
    const doc: Document = { id: 'd', text: `  ${words(25)}\n`, title: 'T' };
    const ps = chunkDocument(doc, { maxTokens: 10, overlap: 3, boundaryWindow: 0 });
    // windows start at tokens 0, 7, 14 and the last one reaches token 24
    expect(ps.map((p) => p.text)).toEqual([words(10, 0), words(10, 7), words(10, 14), words(4, 21)]);
    expect(ps.map((p) => p.id)).toEqual(['d#0', 'd#1', 'd#2', 'd#3']);
    for (const p of ps) {
      expect(doc.text.slice(p.start, p.end)).toBe(p.text);
      expect(p.source).toBe('d');
      expect(p.title).toBe('T');
    }
    expect(ps[0]!.start).toBe(2);
  });

  it('moves a cut back to a sentence end when one is within the window', () => {
    const doc: Document = { id: 's', text: 'Alpha beta gamma. Delta epsilon zeta eta theta iota kappa.' };
    // 12 tokens; hard cut after token 8 ("eta"); window 4 tokens reaches the "." after gamma.
    expect(chunkDocument(doc, { maxTokens: 8, overlap: 0, boundaryWindow: 0.5 }).map((p) => p.text)).toEqual([
      'Alpha beta gamma.',
      'Delta epsilon zeta eta theta iota kappa.',
    ]);
    expect(chunkDocument(doc, { maxTokens: 8, overlap: 0, boundaryWindow: 0 }).map((p) => p.text)).toEqual([
      'Alpha beta gamma. Delta epsilon zeta eta',
      'theta iota kappa.',
    ]);
    // Window too short to reach the sentence end: hard cut.
    expect(chunkDocument(doc, { maxTokens: 8, overlap: 0, boundaryWindow: 0.25 })[0]!.text).toBe(
      'Alpha beta gamma. Delta epsilon zeta eta',
    );
  });

  it('prefers a paragraph break to a later sentence end', () => {
    const doc: Document = { id: 'p', text: 'One two. Three four.\n\nFive six. Seven eight nine ten eleven' };
    const ps = chunkDocument(doc, { maxTokens: 10, overlap: 2, boundaryWindow: 0.5 });
    expect(ps[0]!.text).toBe('One two. Three four.');
    expect(ps[1]!.text.startsWith('four.\n\nFive six.')).toBe(true); // 2 tokens of overlap: "four" "."
    for (const p of ps) expect(doc.text.slice(p.start, p.end)).toBe(p.text);
  });

  it('accepts any token counter (here: one token per character)', () => {
    const chars: TokenCounter = (text) => Array.from(text, (_, i) => [i, i + 1] as [number, number]);
    const doc: Document = { id: 'c', text: 'abcdefghij' };
    expect(
      chunkDocument(doc, { maxTokens: 4, overlap: 1, boundaryWindow: 0 }, chars).map((p) => [p.text, p.start, p.end]),
    ).toEqual([
      ['abcd', 0, 4],
      ['defg', 3, 7],
      ['ghij', 6, 10],
    ]);
    const bad: TokenCounter = () => [
      [2, 4],
      [1, 3],
    ];
    expect(() => chunkDocument(doc, {}, bad)).toThrow(/invalid span \[1, 3\] at token 1 of document "c"/);
  });

  it('covers every token of long real-looking text and never exceeds maxTokens', () => {
    const para = (i: number): string => `Sentence ${i} starts here, and goes on for a while. Then it ends! Does it?`;
    const text = Array.from({ length: 40 }, (_, i) => para(i)).join('\n\n');
    const doc: Document = { id: 'long', text };
    const ps = chunkDocuments([doc], { maxTokens: 50, overlap: 8 });
    const spans = wordTokenCounter(text);
    const covered = new Set<number>();
    for (const p of ps) {
      expect(doc.text.slice(p.start, p.end)).toBe(p.text);
      const inside = spans.filter(([s, e]) => s >= p.start && e <= p.end);
      expect(inside.length).toBeLessThanOrEqual(50);
      inside.forEach(([s]) => covered.add(s));
    }
    expect(covered.size).toBe(spans.length);
  });

  it('returns nothing for an empty document and validates its config', () => {
    expect(chunkDocument({ id: 'e', text: '  \n ' })).toEqual([]);
    expect(() => validateChunkConfig({ maxTokens: 10, overlap: 10 })).toThrow(
      /overlap must be an integer with 0 ≤ overlap < maxTokens \(10\), got 10/,
    );
    expect(() => validateChunkConfig({ maxTokens: 0 })).toThrow(/maxTokens must be an integer ≥ 1, got 0/);
  });
});

describe('overlong words', () => {
  it('a 1 MB unbroken word is cut to passages of at most maxTokens x 100 characters', () => {
    const blob = 'x'.repeat(1_000_000);
    const passages = chunkDocument({ id: 'blob.txt', text: `Intro. ${blob} Outro.` }, { maxTokens: 50, overlap: 5 });
    expect(Math.max(...passages.map((p) => p.text.length))).toBeLessThanOrEqual(50 * 100);
    expect(passages.length).toBeGreaterThan(200); // ~1e6 / (45 * 100)
    for (const p of passages) expect(`Intro. ${blob} Outro.`.slice(p.start, p.end)).toBe(p.text);
  });
});
