/**
 * Inverse Cloze Task (Lee et al., 2019, "Latent Retrieval for Weakly Supervised Open Domain QA"):
 * self-supervised retriever pairs from raw passages. One sentence of a passage becomes the query;
 * the passage is the positive, with that sentence removed in a `removeRate` share of pairs (so
 * the model learns context, not only word overlap) and kept in the rest.
 */
import { Rng } from '@dalm/core';
import type { Passage } from '@dalm/retriever';
import type { TrainingPair } from './pairs';

export interface IctConfig {
  /** Share of pairs whose positive has the query sentence removed. Lee et al. use 0.9. */
  removeRate: number;
  /** Sentences shorter than this many words are not used as queries. */
  minQueryWords: number;
  /** Pairs per passage. */
  pairsPerPassage: number;
  seed: number;
}

export const DEFAULT_ICT_CONFIG: Readonly<IctConfig> = Object.freeze({
  removeRate: 0.9,
  minQueryWords: 5,
  pairsPerPassage: 1,
  seed: 13,
});

/** Sentence spans [start, end) of a text: split after . ! ? followed by space, and at newlines. */
export function sentenceSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  const re = /[^.!?\n]+(?:[.!?]+(?=\s|$)|\n|$)/g;
  for (const m of text.matchAll(re)) {
    const raw = m[0];
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trim();
    if (body) spans.push([m.index! + lead, m.index! + lead + body.length]);
  }
  return spans;
}

export function ictPairs(passages: readonly Passage[], config: Partial<IctConfig> = {}): TrainingPair[] {
  const c = { ...DEFAULT_ICT_CONFIG, ...config };
  if (!(c.removeRate >= 0 && c.removeRate <= 1))
    throw new Error(`ict: removeRate must be in [0, 1], got ${c.removeRate}`);
  const rng = new Rng(c.seed);
  const out: TrainingPair[] = [];
  for (const p of passages) {
    const spans = sentenceSpans(p.text).filter(([s, e]) => p.text.slice(s, e).split(/\s+/).length >= c.minQueryWords);
    if (spans.length < 2) continue; // a one-sentence passage would leave nothing as context
    const picked = rng.shuffle([...spans]).slice(0, c.pairsPerPassage);
    for (const [s, e] of picked) {
      const query = p.text.slice(s, e);
      const remove = rng.next() < c.removeRate;
      const positive = remove ? (p.text.slice(0, s) + p.text.slice(e)).replace(/\s{2,}/g, ' ').trim() : p.text;
      out.push({ query, positive, positiveId: p.id });
    }
  }
  return out;
}
