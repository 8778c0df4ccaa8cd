/**
 * Cloze questions: QA pairs from raw passages with no model at all, so a folder of .txt files
 * with no labels still yields training data. One sentence of a passage becomes the question with
 * a salient span blanked out, and the span (an exact substring of the passage) is the answer:
 *
 *   "The capital of Kalomi is Amber."  ->  question "The capital of _____ is Amber.", answer "Kalomi"
 *
 * Salient spans, tried in this order: capitalised phrases (longest first; a sentence's first word
 * counts only as part of a longer phrase, leading stopwords dropped), numbers (first first), then
 * content words of 4+ letters that are not stopwords (longest first). A candidate is used when it
 * covers at most half of the sentence's words and does not appear again in the blanked sentence.
 *
 * @example
 * const qa = clozeQuestions(await readPassages('index/passages.jsonl'), { perPassage: 2 });
 */
import { Rng } from '@dalm/core';
import type { Passage } from '@dalm/retriever';
import { normalizeAnswer } from '@dalm/generator';
import type { QaExample } from './qa';
import { sentenceSpans } from './ict';

export interface ClozeConfig {
  /** Most questions per passage (one per sentence; sentences taken in a seeded random order). */
  perPassage: number;
  /** Sentences with fewer words are not used. */
  minSentenceWords: number;
  /** Text that replaces the blanked span. */
  blank: string;
  seed: number;
}

export const DEFAULT_CLOZE_CONFIG: Readonly<ClozeConfig> = Object.freeze({
  perPassage: 1,
  minSentenceWords: 5,
  blank: '_____',
  seed: 11,
});

const STOPWORDS = new Set(
  (
    'a an the and or but if then else of in on at to for from by with without into onto over under about as is are was were be been being ' +
    'it its this that these those there here which who whom whose what when where why how not no nor so than too very can could may might ' +
    'must shall should will would do does did done have has had having i you he she we they them their our your his her my me us also ' +
    'such some any all each every both either neither other another more most much many few one only own same just however while after ' +
    'before during between through because since until although though these within among upon per via'
  ).split(/\s+/),
);

/** A candidate span [start, end) within the sentence text. */
type Span = [number, number];

/** Candidate spans of one sentence, best first (see the file comment). */
export function salientSpans(sentence: string): Span[] {
  const capital: Span[] = [];
  for (const m of sentence.matchAll(/\p{Lu}[\p{L}\p{N}'’-]*(?:\s+\p{Lu}[\p{L}\p{N}'’-]*)*/gu)) {
    const parts = [...m[0].matchAll(/\S+/g)].map(
      (w) => [m.index! + w.index!, m.index! + w.index! + w[0].length] as Span,
    );
    // The sentence's first word is capitalised anyway: it only counts inside a longer phrase.
    if (m.index === 0 && parts.length === 1) continue;
    while (parts.length && STOPWORDS.has(sentence.slice(parts[0]![0], parts[0]![1]).toLowerCase())) parts.shift();
    if (parts.length) capital.push([parts[0]![0], parts.at(-1)![1]]);
  }
  capital.sort((a, b) => b[1] - b[0] - (a[1] - a[0]) || a[0] - b[0]);
  const numbers: Span[] = [...sentence.matchAll(/(?<![\p{L}\p{N}])\p{N}+(?:[.,]\p{N}+)*%?(?![\p{L}\p{N}])/gu)].map(
    (m) => [m.index!, m.index! + m[0].length],
  );
  const content: Span[] = [...sentence.matchAll(/\p{L}[\p{L}'’-]*/gu)]
    .filter((m) => m[0].length >= 4 && !STOPWORDS.has(m[0].toLowerCase()))
    .map((m) => [m.index!, m.index! + m[0].length] as Span)
    .sort((a, b) => b[1] - b[0] - (a[1] - a[0]) || a[0] - b[0]);
  return [...capital, ...numbers, ...content];
}

/** The cloze question of one sentence, or null when no candidate span qualifies. */
export function clozeOfSentence(sentence: string, blank: string): { question: string; answer: string } | null {
  const total = sentence.split(/\s+/).filter(Boolean).length;
  for (const [s, e] of salientSpans(sentence)) {
    const answer = sentence.slice(s, e);
    if (answer.split(/\s+/).length * 2 > total) continue;
    const question = sentence.slice(0, s) + blank + sentence.slice(e);
    const a = normalizeAnswer(answer);
    if (!a || ` ${normalizeAnswer(question)} `.includes(` ${a} `)) continue;
    return { question, answer };
  }
  return null;
}

/**
 * Cloze QA pairs from passages: up to `perPassage` per passage, ids `<passage id>#c<n>`, the
 * passage as the positive and its source as the document. Repeated questions are dropped.
 */
export function clozeQuestions(passages: readonly Passage[], partial: Partial<ClozeConfig> = {}): QaExample[] {
  const c = { ...DEFAULT_CLOZE_CONFIG, ...partial };
  if (!Number.isInteger(c.perPassage) || c.perPassage < 1)
    throw new Error(`cloze: perPassage must be an integer >= 1, got ${c.perPassage}`);
  if (!Number.isInteger(c.minSentenceWords) || c.minSentenceWords < 2)
    throw new Error(`cloze: minSentenceWords must be an integer >= 2, got ${c.minSentenceWords}`);
  if (!c.blank.trim()) throw new Error('cloze: blank must be a non-empty text');
  const rng = new Rng(c.seed);
  const seen = new Set<string>();
  const out: QaExample[] = [];
  for (const p of passages) {
    const sentences = sentenceSpans(p.text)
      .map(([s, e]) => p.text.slice(s, e))
      .filter((s) => s.split(/\s+/).length >= c.minSentenceWords);
    let n = 0;
    for (const sentence of rng.shuffle(sentences)) {
      if (n >= c.perPassage) break;
      const qa = clozeOfSentence(sentence, c.blank);
      if (!qa) continue;
      const key = normalizeAnswer(qa.question); // the same blanked sentence twice would be ambiguous
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        id: `${p.id}#c${n}`,
        question: qa.question,
        answers: [qa.answer],
        positiveIds: [p.id],
        documentId: p.source,
      });
      n++;
    }
  }
  return out;
}
