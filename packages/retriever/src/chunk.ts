/**
 * Splitting documents into passages of at most `maxTokens` tokens, consecutive passages
 * sharing `overlap` tokens. Tokens come from a pluggable `TokenCounter`, so the passage
 * length can be measured in the encoder's own tokens. A cut is moved back to the nearest
 * paragraph break, else sentence end, when one lies within the last `boundaryWindow` of the
 * window. Every passage keeps its source and offsets: `doc.text.slice(p.start, p.end) === p.text`.
 */
import type { Document } from './ingest';
import type { Passage } from './passage';

/**
 * Returns the character spans `[start, end)` of the tokens of `text`, in order and not
 * overlapping. Any tokenizer that reports offsets can be adapted to this shape.
 */
export type TokenCounter = (text: string) => Array<[number, number]>;

export interface ChunkConfig {
  /** Maximum tokens per passage (≥ 1). */
  maxTokens: number;
  /** Tokens shared by consecutive passages (0 ≤ overlap < maxTokens). */
  overlap: number;
  /** Fraction of maxTokens (0..1) searched back from a hard cut for a paragraph/sentence boundary; 0 disables. */
  boundaryWindow: number;
}

export const DEFAULT_CHUNK_CONFIG: Readonly<ChunkConfig> = Object.freeze({
  maxTokens: 200,
  overlap: 20,
  boundaryWindow: 0.25,
});

/** Fills defaults and checks ranges; errors name the bad field and its valid values. */
export function validateChunkConfig(config: Partial<ChunkConfig> = {}): ChunkConfig {
  const c: ChunkConfig = { ...DEFAULT_CHUNK_CONFIG, ...config };
  if (!Number.isInteger(c.maxTokens) || c.maxTokens < 1) {
    throw new Error(`chunk config: maxTokens must be an integer ≥ 1, got ${c.maxTokens}`);
  }
  if (!Number.isInteger(c.overlap) || c.overlap < 0 || c.overlap >= c.maxTokens) {
    throw new Error(
      `chunk config: overlap must be an integer with 0 ≤ overlap < maxTokens (${c.maxTokens}), got ${c.overlap}`,
    );
  }
  if (!(c.boundaryWindow >= 0 && c.boundaryWindow <= 1)) {
    throw new Error(`chunk config: boundaryWindow must be a number in [0, 1], got ${c.boundaryWindow}`);
  }
  return c;
}

/**
 * The default token counter: runs of letters/digits/underscore are words, and every other
 * non-space character is a token of its own (so `"e.g."` is four tokens).
 */
export const wordTokenCounter: TokenCounter = (text) => {
  const spans: Array<[number, number]> = [];
  const re = /[\p{L}\p{N}\p{M}_]+|[^\p{L}\p{N}\p{M}_\s]/gu;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) spans.push([m.index, m.index + m[0].length]);
  return spans;
};

const PARAGRAPH_GAP = /\r?\n[ \t]*\r?\n/;
const SENTENCE_END = /[.!?…。][)\]"'”’]*\s+$/;

/**
 * Cuts one document into passages with ids `<doc.id>#<n>`.
 *
 * @example
 * chunkDocument({ id: 'a.txt', text: 'One. Two three.' }, { maxTokens: 3, overlap: 0 })
 * // [{ id: 'a.txt#0', text: 'One.', ... }, { id: 'a.txt#1', text: 'Two three.', ... }]
 */
export function chunkDocument(
  doc: Document,
  config: Partial<ChunkConfig> = {},
  countTokens: TokenCounter = wordTokenCounter,
): Passage[] {
  const c = validateChunkConfig(config);
  const text = doc.text;
  const counted = countTokens(text);
  checkSpans(counted, text.length, doc.id);
  const spans = splitLongSpans(counted);
  const n = spans.length;
  const passages: Passage[] = [];
  const window = Math.floor(c.maxTokens * c.boundaryWindow);
  let i = 0;
  while (i < n) {
    const hardEnd = Math.min(i + c.maxTokens, n); // exclusive token index
    let end = hardEnd;
    if (hardEnd < n && window > 0)
      end = boundaryCut(text, spans, Math.max(i + 1, hardEnd - window), hardEnd) ?? hardEnd;
    const start = spans[i]![0];
    const stop = spans[end - 1]![1];
    const p: Passage = {
      id: `${doc.id}#${passages.length}`,
      text: text.slice(start, stop),
      source: doc.id,
      start,
      end: stop,
    };
    if (doc.title !== undefined) p.title = doc.title;
    passages.push(p);
    if (end >= n) break;
    i = Math.max(end - c.overlap, i + 1);
  }
  return passages;
}

/**
 * Longest token span, in characters, that chunking treats as one token. A tokenizer maps an overlong
 * "word" (a base64 blob, a minified line) to one [UNK] or one run; counting it as one token would
 * make a passage of any size. BERT's WordPiece gives up on words past 100 characters too.
 */
export const MAX_TOKEN_CHARS = 100;

/** Cuts spans longer than {@link MAX_TOKEN_CHARS} into consecutive pieces of at most that length. */
function splitLongSpans(spans: Array<[number, number]>): Array<[number, number]> {
  if (spans.every(([a, b]) => b - a <= MAX_TOKEN_CHARS)) return spans;
  const out: Array<[number, number]> = [];
  for (const [a, b] of spans) {
    for (let s = a; s < b; s += MAX_TOKEN_CHARS) out.push([s, Math.min(b, s + MAX_TOKEN_CHARS)]);
  }
  return out;
}

/** Chunks every document; passage ids are unique when document ids are. */
export function chunkDocuments(
  docs: readonly Document[],
  config: Partial<ChunkConfig> = {},
  countTokens: TokenCounter = wordTokenCounter,
): Passage[] {
  const c = validateChunkConfig(config);
  return docs.flatMap((d) => chunkDocument(d, c, countTokens));
}

/**
 * The best exclusive end token in [lo, hi] (hi < tokens count): the latest cut after a
 * paragraph break, else the latest after a sentence end, else undefined.
 */
function boundaryCut(text: string, spans: Array<[number, number]>, lo: number, hi: number): number | undefined {
  let sentence: number | undefined;
  for (let e = hi; e >= lo; e--) {
    const gap = text.slice(spans[e - 1]![1], spans[e]![0]);
    if (PARAGRAPH_GAP.test(gap)) return e;
    if (sentence === undefined && SENTENCE_END.test(text.slice(spans[e - 1]![0], spans[e]![0]))) sentence = e;
  }
  return sentence;
}

function checkSpans(spans: Array<[number, number]>, length: number, docId: string): void {
  let prev = 0;
  for (let k = 0; k < spans.length; k++) {
    const [s, e] = spans[k]!;
    if (!(Number.isInteger(s) && Number.isInteger(e) && s >= prev && e > s && e <= length)) {
      throw new Error(
        `token counter returned an invalid span [${s}, ${e}] at token ${k} of document "${docId}" ` +
          `(spans must be ordered, non-empty, non-overlapping and within the text of length ${length})`,
      );
    }
    prev = e;
  }
}
