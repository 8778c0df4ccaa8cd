/**
 * Evaluates any `Retrieval` on queries with relevance judgements. Returns the mean of each
 * metric over the queries, under fixed names, so results from different retrievers, runs and
 * papers line up, and (`evaluateDetailed`) the per-query values that confidence intervals and
 * paired tests need. The primary metric (for model selection, early stopping) is `ndcg@10`.
 *
 * Queries that cannot score are left out and counted, never silently averaged in as zeros:
 * queries with no relevant judgement (grade > 0), and, when the evaluator knows the indexed
 * passage ids, queries none of whose relevant ids are in the index (their metrics would be 0
 * whatever the retriever does: usually a QA file that names another corpus' ids).
 */
import { hitAt } from './metrics/hit';
import { averagePrecisionAt } from './metrics/map';
import { reciprocalRankAt } from './metrics/mrr';
import { ndcgAt } from './metrics/ndcg';
import { recallAt } from './metrics/recall';
import type { Relevance } from './metrics/relevance';
import type { IrQuery, Qrels } from './qrels';
import { searchAll, type Retrieval } from './retrieval';
import type { Embedder } from './embedder';
import type { Passage } from './passage';
import { ExactIndex } from './exact-index';

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
  /**
   * Ids of the indexed passages. When given, queries none of whose relevant ids are among them
   * are left out (and counted in `skipped.notInIndex`); an error names the first such id when no
   * query is left.
   */
  passageIds: Iterable<string> | null;
}

/** Queries the evaluator left out, and why. */
export interface IrSkipped {
  /** No judgement with grade > 0. */
  noJudgements: number;
  /** No relevant id among the indexed passages (only counted with `passageIds`). */
  notInIndex: number;
  /** Kept, but some of their relevant ids are not in the index (recall cannot reach 1). */
  partlyInIndex: number;
}

/** Means and per-query values of one evaluation. */
export interface IrEvaluation {
  /** Mean of every metric in `IR_METRIC_NAMES`. */
  metrics: Record<IrMetricName, number>;
  /** Per-query values, in the order of `queryIds`. */
  perQuery: Record<IrMetricName, number[]>;
  queryIds: string[];
}

/**
 * @example
 * const { queries, qrels } = await loadCovidQaDataset(dir, 'dev');
 * const evaluator = new IrEvaluator(queries, qrels, { passageIds: corpus.map((p) => p.id) });
 * const metrics = await evaluator.evaluate(Bm25Index.build(corpus));
 * metrics[evaluator.primary] // nDCG@10
 */
export class IrEvaluator {
  /** Name of the primary metric in the returned record. */
  readonly primary: IrMetricName = PRIMARY_IR_METRIC;
  /** The queries evaluated (after leaving out those that cannot score). */
  readonly queries: IrQuery[];
  readonly skipped: IrSkipped;
  private readonly qrels: Qrels;
  private readonly batchSize: number;

  constructor(queries: readonly IrQuery[], qrels: Qrels, opts: Partial<IrEvaluatorOptions> = {}) {
    this.qrels = qrels;
    const relevantIds = (q: IrQuery) => [...(qrels.get(q.id) ?? [])].filter(([, g]) => g > 0).map(([id]) => id);
    const judged = queries.filter((q) => relevantIds(q).length > 0);
    this.skipped = { noJudgements: queries.length - judged.length, notInIndex: 0, partlyInIndex: 0 };
    if (judged.length === 0) throw new Error('IrEvaluator: no query has a relevant passage in the qrels');
    if (opts.passageIds) {
      const ids = new Set(opts.passageIds);
      this.queries = [];
      let firstMissing: string | null = null;
      for (const q of judged) {
        const rel = relevantIds(q);
        const found = rel.filter((id) => ids.has(id)).length;
        if (found === 0) {
          this.skipped.notInIndex++;
          firstMissing ??= rel[0]!;
        } else {
          if (found < rel.length) this.skipped.partlyInIndex++;
          this.queries.push(q);
        }
      }
      if (this.queries.length === 0) {
        throw new Error(
          `IrEvaluator: none of the ${judged.length} queries has a relevant id among the ${ids.size} indexed passages (e.g. "${firstMissing}"): do the judgements name this corpus' ids?`,
        );
      }
    } else this.queries = judged;
    this.batchSize = opts.batchSize ?? 64;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new Error(`IrEvaluator: batchSize must be an integer ≥ 1, got ${opts.batchSize}`);
    }
  }

  /** Queries left out, as one line for a report (empty when none). */
  skippedNote(): string {
    const s = this.skipped;
    const parts = [
      s.noJudgements ? `${s.noJudgements} without a relevant id` : '',
      s.notInIndex ? `${s.notInIndex} whose relevant ids are not in the index` : '',
    ].filter(Boolean);
    const partly = s.partlyInIndex ? `; ${s.partlyInIndex} kept with some relevant ids missing from the index` : '';
    return parts.length || partly ? `left out ${parts.join(', ') || 'no queries'}${partly}` : '';
  }

  /** Mean of every metric in `IR_METRIC_NAMES` over the queries. */
  async evaluate(retrieval: Retrieval): Promise<Record<string, number>> {
    return (await this.evaluateDetailed(retrieval)).metrics;
  }

  /** Means and per-query values of every metric. */
  async evaluateDetailed(retrieval: Retrieval): Promise<IrEvaluation> {
    const perQuery = Object.fromEntries(IR_METRIC_NAMES.map((m) => [m, [] as number[]])) as Record<
      IrMetricName,
      number[]
    >;
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
        for (const m of IR_METRIC_NAMES) perQuery[m].push(scores[m]);
      });
    }
    const n = this.queries.length;
    const metrics = Object.fromEntries(
      IR_METRIC_NAMES.map((m) => [m, perQuery[m].reduce((s, x) => s + x, 0) / n]),
    ) as Record<IrMetricName, number>;
    return { metrics, perQuery, queryIds: this.queries.map((q) => q.id) };
  }

  /**
   * Measures an encoder alone: exact (brute-force) search over `corpus`, so no approximate index
   * blurs the figure. An `Encoder` on webgpu needs `await encoder.ensureFingerprint()` first.
   *
   * @example
   * const m = await evaluator.evaluateEmbedder(encoder, passages);
   */
  async evaluateEmbedder(embedder: Embedder, corpus: readonly Passage[]): Promise<Record<string, number>> {
    return (await this.evaluateEmbedderDetailed(embedder, corpus)).metrics;
  }

  /** `evaluateEmbedder` with per-query values. */
  async evaluateEmbedderDetailed(embedder: Embedder, corpus: readonly Passage[]): Promise<IrEvaluation> {
    const index = await ExactIndex.build(embedder, corpus);
    try {
      return await this.evaluateDetailed(index);
    } finally {
      index.dispose();
    }
  }
}
