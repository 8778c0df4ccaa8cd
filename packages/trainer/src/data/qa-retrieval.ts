/**
 * QA examples as retrieval data: the queries and relevance judgements an `IrEvaluator` takes, and
 * retriever training pairs, both from each example's `positive_ids`. Examples without positive
 * ids, and ids missing from the corpus, are counted rather than dropped silently.
 */
import type { IrQuery, Passage, Qrels } from '@dalm/retriever';
import type { QaExample } from './qa';
import type { TrainingPair } from './pairs';

/** Queries and qrels (grade 1 per positive id) of QA examples. */
export interface QaQrels {
  queries: IrQuery[];
  qrels: Qrels;
  /** Examples left out because their `positive_ids` list was missing or empty. */
  withoutPositives: number;
}

/**
 * @example
 * const { queries, qrels, withoutPositives } = qrelsFromQa(await readQaExamples('dev.jsonl'));
 * const evaluator = new IrEvaluator(queries, qrels, { passageIds: index.passages().map((p) => p.id) });
 */
export function qrelsFromQa(examples: readonly QaExample[]): QaQrels {
  const judged = examples.filter((e) => e.positiveIds?.length);
  return {
    queries: judged.map((e) => ({ id: e.id, text: e.question })),
    qrels: new Map(judged.map((e) => [e.id, new Map(e.positiveIds!.map((id) => [id, 1]))])),
    withoutPositives: examples.length - judged.length,
  };
}

/** Training pairs of QA examples, with what could not be paired. */
export interface QaPairs {
  /** One pair per (example, positive id found in the corpus). */
  pairs: TrainingPair[];
  /** Positive ids found, per question text (a hard-negative miner must not pick them). */
  positives: Map<string, Set<string>>;
  /** Examples without positive ids. */
  withoutPositives: number;
  /** Examples none of whose positive ids is in the corpus. */
  notInCorpus: number;
  /** Positive ids (over all examples) missing from the corpus. */
  missingIds: number;
}

/**
 * One training pair per (question, positive passage) of the corpus. Throws when no example has a
 * positive id in the corpus (`source` names the QA file in the message).
 *
 * @example
 * const { pairs, notInCorpus } = pairsFromQa(qa, passages, 'train.jsonl');
 */
export function pairsFromQa(
  examples: readonly QaExample[],
  corpus: readonly Passage[],
  source = 'QA examples',
): QaPairs {
  const byId = new Map(corpus.map((p) => [p.id, p]));
  const out: QaPairs = { pairs: [], positives: new Map(), withoutPositives: 0, notInCorpus: 0, missingIds: 0 };
  let firstMissing: string | null = null;
  for (const ex of examples) {
    const ids = ex.positiveIds ?? [];
    if (ids.length === 0) {
      out.withoutPositives++;
      continue;
    }
    const found = ids.filter((id) => byId.has(id));
    out.missingIds += ids.length - found.length;
    if (found.length === 0) {
      out.notInCorpus++;
      firstMissing ??= ids[0]!;
      continue;
    }
    const set = out.positives.get(ex.question) ?? new Set<string>();
    for (const id of found) {
      set.add(id);
      out.pairs.push({ query: ex.question, positive: byId.get(id)!.text, positiveId: id });
    }
    out.positives.set(ex.question, set);
  }
  if (out.pairs.length === 0) {
    throw new Error(
      firstMissing
        ? `${source}: no example has a positive_ids entry found in the corpus (${out.notInCorpus} examples name ids such as "${firstMissing}" that the ${corpus.length} passages lack)`
        : `${source}: no example has positive_ids`,
    );
  }
  return out;
}

/** One line on what `pairsFromQa` / `qrelsFromQa` left out (empty when nothing). */
export function qaCoverageNote(c: { withoutPositives: number; notInCorpus?: number; missingIds?: number }): string {
  const parts = [
    c.withoutPositives ? `${c.withoutPositives} examples without positive_ids` : '',
    c.notInCorpus ? `${c.notInCorpus} examples whose positive_ids are all missing from the corpus` : '',
    c.missingIds ? `${c.missingIds} positive ids not in the corpus` : '',
  ].filter(Boolean);
  return parts.length ? `left out ${parts.join(', ')}` : '';
}
