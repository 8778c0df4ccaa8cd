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
}

export interface RaftConfig {
  /** Passages per example. */
  k: number;
  /** Share of examples whose passages include a gold one (RAFT's P). */
  goldShare: number;
  seed: number;
}

export const DEFAULT_RAFT_CONFIG: RaftConfig = { k: 3, goldShare: 0.8, seed: 7 };

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
  const rng = new Rng(c.seed);
  const results = await searchAll(retrieval, examples.map((e) => e.question), { k: c.k * 3 + 5 });
  return examples.map((ex, i) => {
    const hits = results[i];
    const gold = goldIds(ex, hits);
    const distractors = hits.filter((h) => !gold.has(h.id)).map((h) => toPrompt(h.passage));
    const wantGold = gold.size > 0 && rng.next() < c.goldShare;
    let passages: PromptPassage[];
    if (wantGold) {
      const retrievedGold = hits.find((h) => gold.has(h.id))?.passage;
      const goldPassage = retrievedGold ?? [...gold].map((id) => corpus.get(id)).find((p): p is Passage => p !== undefined);
      if (!goldPassage) return { question: ex.question, answer: ex.answers[0], passages: distractors.slice(0, c.k), hasGold: false };
      passages = distractors.slice(0, c.k - 1);
      passages.splice(rng.int(passages.length + 1), 0, toPrompt(goldPassage));
    } else {
      passages = distractors.slice(0, c.k);
    }
    return { question: ex.question, answer: ex.answers[0], passages, hasGold: wantGold };
  });
}
