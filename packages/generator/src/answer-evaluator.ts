/**
 * Evaluates answers to questions with reference answers: exact match and token F1 (SQuAD
 * normalisation, answer-metrics.ts) per question, their means, and 95 % bootstrap intervals,
 * under the fixed names `exact_match` and `f1` (primary). The counterpart of the retriever's
 * `IrEvaluator`; per-question scores feed paired tests between generators or modes
 * (`compareSystems` in @dalm/core).
 */
import { bootstrapCis, type BootstrapConfig } from '@dalm/core';
import { exactMatch, tokenF1, type ANSWER_METRIC_NAMES, PRIMARY_ANSWER_METRIC } from './answer-metrics';
import type { RagAnswer, RagOptions, RagPipeline } from './rag';

/** A question with its reference answers. */
export interface AnswerItem {
  question: string;
  answers: readonly string[];
}

export type AnswerMetricName = (typeof ANSWER_METRIC_NAMES)[number];

/** Scores of one set of predictions. */
export interface AnswerEvaluation {
  /** Means, plus `count` (questions scored). */
  metrics: Record<AnswerMetricName | 'count', number>;
  /** Per-question scores, in question order. */
  perQuestion: Record<AnswerMetricName, number[]>;
  /** 95 % (by default) percentile bootstrap interval of each mean. */
  ci95: Record<AnswerMetricName, [number, number]>;
}

export interface AnswerEvaluatorOptions {
  /** Bootstrap settings of the intervals (1,000 resamples, seed 1). */
  bootstrap: Partial<BootstrapConfig>;
  /** Questions per `askMany` batch (8). */
  batchSize: number;
}

/**
 * @example
 * const evaluator = new AnswerEvaluator(heldOut);
 * const { metrics, ci95, answers } = await evaluator.evaluate(rag, { k: 3 });
 * metrics.f1; ci95.f1 // [low, high]
 */
export class AnswerEvaluator {
  readonly primary: AnswerMetricName = PRIMARY_ANSWER_METRIC;
  readonly items: readonly AnswerItem[];
  private readonly opts: AnswerEvaluatorOptions;

  constructor(items: readonly AnswerItem[], opts: Partial<AnswerEvaluatorOptions> = {}) {
    if (items.length === 0) throw new Error('AnswerEvaluator: no questions');
    items.forEach((it, i) => {
      if (it.answers.length === 0)
        throw new Error(`AnswerEvaluator: question ${i + 1} ("${it.question}") has no reference answer`);
    });
    this.items = items;
    this.opts = { bootstrap: opts.bootstrap ?? {}, batchSize: opts.batchSize ?? 8 };
    if (!Number.isInteger(this.opts.batchSize) || this.opts.batchSize < 1)
      throw new Error(`AnswerEvaluator: batchSize must be an integer ≥ 1, got ${opts.batchSize}`);
  }

  /** Scores predictions given in question order. */
  score(predictions: readonly string[]): AnswerEvaluation {
    if (predictions.length !== this.items.length)
      throw new Error(`AnswerEvaluator: ${predictions.length} predictions for ${this.items.length} questions`);
    const perQuestion: Record<AnswerMetricName, number[]> = {
      exact_match: predictions.map((p, i) => exactMatch(p, this.items[i]!.answers)),
      f1: predictions.map((p, i) => tokenF1(p, this.items[i]!.answers)),
    };
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      metrics: { exact_match: mean(perQuestion.exact_match), f1: mean(perQuestion.f1), count: predictions.length },
      perQuestion,
      ci95: bootstrapCis(perQuestion, this.opts.bootstrap) as Record<AnswerMetricName, [number, number]>,
    };
  }

  /** Asks every question through `rag` and scores the answers. */
  async evaluate(rag: RagPipeline, opts: RagOptions): Promise<AnswerEvaluation & { answers: RagAnswer[] }> {
    const answers = await rag.askMany(
      this.items.map((it) => it.question),
      { ...opts, batchSize: this.opts.batchSize },
    );
    return { ...this.score(answers.map((a) => a.answer)), answers };
  }
}
