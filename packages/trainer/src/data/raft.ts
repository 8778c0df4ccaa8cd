/**
 * Generator training examples in the RAFT style (Zhang et al., 2024, "RAFT: Adapting Language
 * Model to Domain Specific RAG"): each question comes with k passages from the current retriever.
 * In a `goldShare` of the examples a gold passage (one containing the answer) is among them, at a
 * random position; in the rest only distractors are given, so the model learns both to use good
 * context and to cope with bad. Data preparation writes these examples; training only reads them.
 */
import { Rng } from '@dalm/core';
import type { Passage, Retrieval } from '@dalm/retriever';
import { searchAll } from '@dalm/retriever';
import type { PromptPassage } from '@dalm/generator';
import type { QaExample } from './qa';

export interface GeneratorExample {
  question: string;
  answer: string;
  passages: PromptPassage[];
  /** Whether a gold passage is among `passages`. */
  hasGold: boolean;
  /** Whether the answer was swapped for another one, in the gold passage and the target alike. */
  counterfactual?: boolean;
}

export interface RaftConfig {
  /** Passages per example. */
  k: number;
  /** Share of examples whose passages include a gold one (RAFT's P). */
  goldShare: number;
  /**
   * Share of gold examples made counterfactual: the answer, wherever the gold passage writes it,
   * is replaced by another example's answer, and that becomes the target. The answer can then
   * only come from the passage, not from what the model remembers of the question, so a small
   * model learns to read (copy) instead of guessing the most likely answer. 0 disables it.
   */
  counterfactualShare: number;
  seed: number;
}

export const DEFAULT_RAFT_CONFIG: Readonly<RaftConfig> = Object.freeze({
  k: 3,
  goldShare: 0.8,
  counterfactualShare: 0,
  seed: 7,
});

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `text` with every whole-word, case-insensitive occurrence of `from` replaced by `to`; null if there is none. */
export function swapAnswer(text: string, from: string, to: string): string | null {
  const re = new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(from)}(?![\\p{L}\\p{N}])`, 'giu');
  return re.test(text) ? text.replace(re, to) : null;
}

const toPrompt = (p: Passage): PromptPassage => ({ id: p.id, text: p.text, title: p.title });

/** Ids of passages that are gold for `ex`: its positive ids, else passages containing an answer verbatim. */
export function goldIds(ex: QaExample, hits: readonly { id: string; passage: Passage }[]): Set<string> {
  if (ex.positiveIds?.length) return new Set(ex.positiveIds);
  const answers = ex.answers.map((a) => a.toLowerCase()).filter((a) => a.length > 0);
  return new Set(hits.filter((h) => answers.some((a) => h.passage.text.toLowerCase().includes(a))).map((h) => h.id));
}

export async function buildRaftExamples(
  examples: readonly QaExample[],
  retrieval: Retrieval,
  corpus: ReadonlyMap<string, Passage>,
  partial: Partial<RaftConfig> = {},
): Promise<GeneratorExample[]> {
  const c = { ...DEFAULT_RAFT_CONFIG, ...partial };
  if (!(c.goldShare >= 0 && c.goldShare <= 1)) throw new Error(`raft: goldShare must be in [0, 1], got ${c.goldShare}`);
  if (!Number.isInteger(c.k) || c.k < 1) throw new Error(`raft: k must be an integer >= 1, got ${c.k}`);
  if (!(c.counterfactualShare >= 0 && c.counterfactualShare <= 1))
    throw new Error(`raft: counterfactualShare must be in [0, 1], got ${c.counterfactualShare}`);
  const rng = new Rng(c.seed);
  const pool = examples.map((e) => e.answers[0]?.trim()).filter((a): a is string => Boolean(a));
  const results = await searchAll(
    retrieval,
    examples.map((e) => e.question),
    { k: c.k * 3 + 5 },
  );
  return examples.map((ex, i) => {
    const hits = results[i];
    const gold = goldIds(ex, hits);
    const distractors = hits.filter((h) => !gold.has(h.id)).map((h) => toPrompt(h.passage));
    const wantGold = gold.size > 0 && rng.next() < c.goldShare;
    let passages: PromptPassage[];
    if (wantGold) {
      const retrievedGold = hits.find((h) => gold.has(h.id))?.passage;
      const goldPassage =
        retrievedGold ?? [...gold].map((id) => corpus.get(id)).find((p): p is Passage => p !== undefined);
      if (!goldPassage)
        return { question: ex.question, answer: ex.answers[0], passages: distractors.slice(0, c.k), hasGold: false };
      passages = distractors.slice(0, c.k - 1);
      const goldAt = rng.int(passages.length + 1);
      passages.splice(goldAt, 0, toPrompt(goldPassage));
      if (c.counterfactualShare > 0 && rng.next() < c.counterfactualShare) {
        const answer = ex.answers[0].trim();
        const other = pool[rng.int(pool.length)];
        const swapped =
          other && other.toLowerCase() !== answer.toLowerCase() ? swapAnswer(goldPassage.text, answer, other) : null;
        if (swapped !== null) {
          passages[goldAt] = { ...passages[goldAt], text: swapped };
          return { question: ex.question, answer: other, passages, hasGold: true, counterfactual: true };
        }
      }
    } else {
      passages = distractors.slice(0, c.k);
    }
    return { question: ex.question, answer: ex.answers[0], passages, hasGold: wantGold };
  });
}
