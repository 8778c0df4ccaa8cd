/**
 * Evaluates any `Retrieval` on queries with relevance judgements. Returns the mean of each
 * metric over the queries, under fixed names, so results from different retrievers, runs and
 * papers line up. The primary metric (for model selection, early stopping) is `ndcg@10`.
 */
import { hitAt } from './metrics/hit';
import { averagePrecisionAt } from './metrics/map';
import { reciprocalRankAt } from './metrics/mrr';
import { ndcgAt } from './metrics/ndcg';
import { recallAt } from './metrics/recall';
import type { Relevance } from './metrics/relevance';
import type { IrQuery, Qrels } from './qrels';
import { searchAll, type Retrieval } from './retrieval';

/** The metric names an IR evaluation always returns, in this order. */
export const IR_METRIC_NAMES = [
  'recall@1',
  'recall@5',
  'recall@10',
  'recall@20',
  'recall@100',
  'hit@1',
  'hit@5',
  'hit@10',
  'mrr@10',
  'ndcg@10',
  'map@100',
] as const;

export type IrMetricName = (typeof IR_METRIC_NAMES)[number];

/** The metric used to compare retrievers and select checkpoints. */
export const PRIMARY_IR_METRIC: IrMetricName = 'ndcg@10';

/** Depth retrieved per query: the deepest cutoff among the metrics. */
export const IR_EVAL_DEPTH = 100;

/** Every metric of one ranked list against one query's judgements. */
export function scoreRanking(ranked: readonly string[], relevant: Relevance): Record<IrMetricName, number> {
  return {
    'recall@1': recallAt(ranked, relevant, 1),
    'recall@5': recallAt(ranked, relevant, 5),
    'recall@10': recallAt(ranked, relevant, 10),
    'recall@20': recallAt(ranked, relevant, 20),
    'recall@100': recallAt(ranked, relevant, 100),
    'hit@1': hitAt(ranked, relevant, 1),
    'hit@5': hitAt(ranked, relevant, 5),
    'hit@10': hitAt(ranked, relevant, 10),
    'mrr@10': reciprocalRankAt(ranked, relevant, 10),
    'ndcg@10': ndcgAt(ranked, relevant, 10),
    'map@100': averagePrecisionAt(ranked, relevant, 100),
  };
}

export interface IrEvaluatorOptions {
  /** Queries sent to the retriever per `searchMany` call (64 by default). */
  batchSize: number;
}

/**
 * @example
 * const { queries, qrels } = await loadCovidQaDataset(dir, 'dev');
 * const evaluator = new IrEvaluator(queries, qrels);
 * const metrics = await evaluator.evaluate(Bm25Index.build(corpus));
 * metrics[evaluator.primary] // nDCG@10
 */
export class IrEvaluator {
  /** Name of the primary metric in the returned record. */
  readonly primary: IrMetricName = PRIMARY_IR_METRIC;
  readonly queries: IrQuery[];
  private readonly qrels: Qrels;
  private readonly batchSize: number;

  /**
   * Queries without any relevant judgement (grade > 0) are left out, as in BEIR: they would
   * score 0 whatever the retriever does.
   */
  constructor(queries: readonly IrQuery[], qrels: Qrels, opts: Partial<IrEvaluatorOptions> = {}) {
    this.qrels = qrels;
    this.queries = queries.filter((q) => [...(qrels.get(q.id)?.values() ?? [])].some((g) => g > 0));
    if (this.queries.length === 0) throw new Error('IrEvaluator: no query has a relevant passage in the qrels');
    this.batchSize = opts.batchSize ?? 64;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new Error(`IrEvaluator: batchSize must be an integer ≥ 1, got ${opts.batchSize}`);
    }
  }

  /** Mean of every metric in `IR_METRIC_NAMES` over the queries. */
  async evaluate(retrieval: Retrieval): Promise<Record<string, number>> {
    const sums = Object.fromEntries(IR_METRIC_NAMES.map((m) => [m, 0])) as Record<IrMetricName, number>;
    for (let i = 0; i < this.queries.length; i += this.batchSize) {
      const batch = this.queries.slice(i, i + this.batchSize);
      const results = await searchAll(
        retrieval,
        batch.map((q) => q.text),
        { k: IR_EVAL_DEPTH },
      );
      batch.forEach((q, j) => {
        const scores = scoreRanking(
          results[j]!.map((h) => h.id),
          this.qrels.get(q.id)!,
        );
        for (const m of IR_METRIC_NAMES) sums[m] += scores[m];
      });
    }
    const n = this.queries.length;
    return Object.fromEntries(IR_METRIC_NAMES.map((m) => [m, sums[m] / n]));
  }
}
