/**
 * BPE merge learning over a word-frequency table (shared by the byte-level
 * BPE and WordPiece trainers).
 *
 * Words are counted once up front; each step merges the most frequent
 * adjacent symbol pair (ties: the pair of smaller symbol ids, i.e. earlier in
 * the alphabet / created earlier) in every word that holds it, updating the
 * pair counts incrementally from the words that changed. A lazy max-heap
 * keeps the best pair: stale entries are corrected when popped.
 */
import { PriorityQueue } from './priority-queue';

/** Unique words as symbol sequences, with their corpus frequencies. */
export interface WordTable {
  words: string[][];
  counts: number[];
}

export interface LearnMergesOptions {
  /** Initial symbols; every word symbol must be one of them. Their order breaks count ties. */
  alphabet: string[];
  /** Strings already in the vocabulary (e.g. special tokens): a merge producing one reuses it and adds nothing. */
  reserved?: Iterable<string>;
  /** Stop once this many new symbols were created. */
  maxNewSymbols: number;
  /** Stop when the best pair occurs fewer times than this. */
  minFrequency: number;
  /** The symbol made by merging `left` and `right`. */
  join: (left: string, right: string) => string;
}

export interface LearnedMerges {
  /** Merges in the order learned (= priority order for encoding). */
  merges: Array<[string, string]>;
  /** New symbols in order of creation (no alphabet or reserved strings). */
  newSymbols: string[];
}

const KEY = 2 ** 21; // pair key = left * KEY + right; symbol ids stay below KEY

interface HeapEntry {
  count: number;
  key: number;
}

/**
 * Learns BPE merges on `table` (its words are not modified).
 *
 * @example
 * learnMerges({ words: [['a', 'b'], ['a', 'b', 'c']], counts: [3, 1] },
 *   { alphabet: ['a', 'b', 'c'], maxNewSymbols: 10, minFrequency: 2, join: (a, b) => a + b });
 * // { merges: [['a', 'b']], newSymbols: ['ab'] }  (('ab','c') occurs once < 2)
 */
export function learnMerges(table: WordTable, options: LearnMergesOptions): LearnedMerges {
  const symbols: string[] = [];
  const idOf = new Map<string, number>();
  const intern = (s: string): number => {
    let id = idOf.get(s);
    if (id === undefined) {
      id = symbols.length;
      if (id >= KEY) throw new Error(`learnMerges: more than ${KEY} symbols`);
      symbols.push(s);
      idOf.set(s, id);
    }
    return id;
  };
  for (const s of options.alphabet) intern(s);
  const reserved = new Set(options.reserved ?? []);
  for (const s of reserved) intern(s);

  const words: number[][] = table.words.map((w, wi) =>
    w.map((s) => {
      const id = idOf.get(s);
      if (id === undefined || reserved.has(s))
        throw new Error(`learnMerges: word ${wi} has symbol ${JSON.stringify(s)} outside the alphabet`);
      return id;
    }),
  );
  const counts = table.counts;
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    for (let i = 0; i + 1 < word.length; i++) {
      const k = word[i] * KEY + word[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + counts[w]);
      let list = where.get(k);
      if (!list) where.set(k, (list = []));
      if (list[list.length - 1] !== w) list.push(w);
    }
  }
  const heap = new PriorityQueue<HeapEntry>((x, y) => x.count > y.count || (x.count === y.count && x.key < y.key));
  for (const [key, count] of pairCount) heap.push({ count, key });

  const merges: Array<[string, string]> = [];
  const newSymbols: string[] = [];
  const seen = new Int32Array(words.length).fill(-1);
  const deltas = new Map<number, number>();
  while (newSymbols.length < options.maxNewSymbols) {
    const top = heap.pop();
    if (!top) break;
    const current = pairCount.get(top.key) ?? 0;
    if (current !== top.count) {
      if (current > 0) heap.push({ count: current, key: top.key }); // stale entry
      continue;
    }
    if (current < options.minFrequency) break;
    const a = Math.floor(top.key / KEY);
    const b = top.key - a * KEY;
    const merged = options.join(symbols[a], symbols[b]);
    const isNew = !idOf.has(merged);
    const m = intern(merged);
    if (isNew) newSymbols.push(merged);
    merges.push([symbols[a], symbols[b]]);

    deltas.clear();
    const add = (k: number, d: number): void => {
      deltas.set(k, (deltas.get(k) ?? 0) + d);
    };
    const stamp = merges.length;
    for (const w of where.get(top.key) ?? []) {
      if (seen[w] === stamp) continue;
      seen[w] = stamp;
      const word = words[w];
      const cnt = counts[w];
      const out: number[] = [];
      let changed = false;
      for (let i = 0; i < word.length; ) {
        if (word[i] === a && i + 1 < word.length && word[i + 1] === b) {
          out.push(m);
          i += 2;
          changed = true;
        } else {
          out.push(word[i++]);
        }
      }
      if (!changed) continue;
      for (let i = 0; i + 1 < word.length; i++) add(word[i] * KEY + word[i + 1], -cnt);
      for (let i = 0; i + 1 < out.length; i++) {
        const k = out[i] * KEY + out[i + 1];
        add(k, cnt);
        if (out[i] === m || out[i + 1] === m) {
          let list = where.get(k);
          if (!list) where.set(k, (list = []));
          if (list[list.length - 1] !== w) list.push(w);
        }
      }
      words[w] = out;
    }
    for (const [k, d] of deltas) {
      if (d === 0) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c <= 0) pairCount.delete(k);
      else pairCount.set(k, c);
      if (d > 0 && c > 0) heap.push({ count: c, key: k });
    }
    pairCount.delete(top.key);
    where.delete(top.key);
  }
  return { merges, newSymbols };
}
