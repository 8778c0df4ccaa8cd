/** BPE merge learning: a hand-computed example, and agreement with a naive recount-everything trainer on real text. */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BYTE_TO_CHAR, learnMerges, toByteChars, type WordTable } from '../src/index';
import { byteLevelSplit } from '../src/tokenizers/byte-level';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpus = path.join(path.resolve(repoRoot, '../shared'), 'bench/covidqa/corpus.jsonl');

const words = (entries: Array<[string, number]>): WordTable => ({
  words: entries.map(([w]) => [...w]),
  counts: entries.map(([, n]) => n),
});
const HUG = words([
  ['hug', 10],
  ['pug', 5],
  ['pun', 12],
  ['bun', 4],
  ['hugs', 5],
]);
const ALPHABET = ['b', 'g', 'h', 'n', 'p', 's', 'u'];
const join = (a: string, b: string) => a + b;

describe('learnMerges', () => {
  it('learns the hand-computed merges in order', () => {
    // counts: ug 20 > un 16 > (h,ug) 15 > (p,un) 12 > tie at 5: (p,ug) before (hug,s) by symbol ids > (b,un) 4
    const r = learnMerges(HUG, { alphabet: ALPHABET, maxNewSymbols: 100, minFrequency: 1, join });
    expect(r.merges).toEqual([
      ['u', 'g'],
      ['u', 'n'],
      ['h', 'ug'],
      ['p', 'un'],
      ['p', 'ug'],
      ['hug', 's'],
      ['b', 'un'],
    ]);
    expect(r.newSymbols).toEqual(['ug', 'un', 'hug', 'pun', 'pug', 'hugs', 'bun']);
  });

  it('stops at minFrequency and at maxNewSymbols', () => {
    expect(learnMerges(HUG, { alphabet: ALPHABET, maxNewSymbols: 100, minFrequency: 5, join }).newSymbols).toEqual([
      'ug',
      'un',
      'hug',
      'pun',
      'pug',
      'hugs',
    ]);
    expect(learnMerges(HUG, { alphabet: ALPHABET, maxNewSymbols: 3, minFrequency: 1, join }).newSymbols).toEqual([
      'ug',
      'un',
      'hug',
    ]);
    expect(learnMerges(HUG, { alphabet: ALPHABET, maxNewSymbols: 100, minFrequency: 21, join }).merges).toEqual([]);
  });

  it('reuses reserved strings without counting them as new', () => {
    const r = learnMerges(HUG, { alphabet: ALPHABET, reserved: ['ug'], maxNewSymbols: 1, minFrequency: 1, join });
    expect(r.merges).toEqual([
      ['u', 'g'],
      ['u', 'n'],
    ]);
    expect(r.newSymbols).toEqual(['un']);
  });

  it('rejects symbols outside the alphabet', () => {
    expect(() =>
      learnMerges(words([['hx', 1]]), { alphabet: ALPHABET, maxNewSymbols: 1, minFrequency: 1, join }),
    ).toThrow(/symbol "x" outside the alphabet/);
  });
});

/** Reference trainer: recounts every pair of every word at each step. */
function naiveMerges(
  table: WordTable,
  alphabet: string[],
  maxMerges: number,
  minFrequency: number,
): Array<[string, string]> {
  const ids = new Map(alphabet.map((s, i) => [s, i]));
  const idOf = (s: string) => {
    if (!ids.has(s)) ids.set(s, ids.size);
    return ids.get(s)!;
  };
  let ws = table.words.map((w) => [...w]);
  const out: Array<[string, string]> = [];
  while (out.length < maxMerges) {
    const counts = new Map<string, number>();
    ws.forEach((w, wi) => {
      for (let i = 0; i + 1 < w.length; i++) {
        const k = `${w[i]}\u0000${w[i + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + table.counts[wi]);
      }
    });
    let best: [string, string] | null = null;
    let bestCount = -1;
    for (const [k, c] of counts) {
      const [a, b] = k.split('\u0000') as [string, string];
      const better =
        c > bestCount ||
        (c === bestCount &&
          best !== null &&
          (idOf(a) < idOf(best[0]) || (idOf(a) === idOf(best[0]) && idOf(b) < idOf(best[1]))));
      if (better) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (!best || bestCount < minFrequency) break;
    const [a, b] = best;
    idOf(a + b);
    out.push(best);
    ws = ws.map((w) => {
      const r: string[] = [];
      for (let i = 0; i < w.length; ) {
        if (w[i] === a && w[i + 1] === b && i + 1 < w.length) {
          r.push(a + b);
          i += 2;
        } else r.push(w[i++]);
      }
      return r;
    });
  }
  return out;
}

describe.skipIf(!existsSync(corpus))('learnMerges on real text', () => {
  it('equals the naive trainer merge for merge (300 merges, 40 COVID-QA passages, byte level)', () => {
    const texts = readFileSync(corpus, 'utf8')
      .trim()
      .split('\n')
      .slice(0, 40)
      .map((l) => JSON.parse(l).text as string);
    const freq = new Map<string, number>();
    for (const t of texts)
      for (const s of byteLevelSplit(t)) freq.set(toByteChars(s.text), (freq.get(toByteChars(s.text)) ?? 0) + 1);
    const table: WordTable = { words: [...freq.keys()].map((w) => [...w]), counts: [...freq.values()] };
    const fast = learnMerges(table, { alphabet: [...BYTE_TO_CHAR], maxNewSymbols: 300, minFrequency: 2, join });
    const slow = naiveMerges(table, [...BYTE_TO_CHAR], fast.merges.length, 2);
    expect(fast.merges.length).toBe(300);
    expect(fast.merges).toEqual(slow);
    expect(fast.merges[0]).toEqual(['i', 'n']); // the most frequent byte pair of these passages
  });
});
