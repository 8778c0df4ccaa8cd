/**
 * Chooses the hybrid fusion on data: every (method, weight) of a grid is scored by nDCG@10 on
 * validation queries, and the best is kept. The grid always holds the two endpoints (dense weight
 * 0 = BM25 alone, 1 = dense alone), which rank exactly as the single systems (see hybrid.ts), so
 * the chosen fusion is never worse than the better single system on the validation queries.
 * Both retrievers are searched once per query (to `candidates` hits); every grid point is then a
 * fusion of those lists in memory.
 *
 * Validation queries must not be the test queries the fusion is later reported on.
 */
import { IrEvaluator, PRIMARY_IR_METRIC, type IrMetricName } from './ir-evaluator';
import type { IrQuery, Qrels } from './qrels';
import { searchAll, type Hit, type Retrieval, type RetrievalOptions } from './retrieval';
import {
  FUSION_METHODS,
  DEFAULT_HYBRID_CONFIG,
  validateHybridConfig,
  HybridRetrieval,
  type FusionMethod,
  type HybridConfig,
} from './hybrid';

export interface FusionTuneConfig {
  /** Methods tried. */
  methods: FusionMethod[];
  /** Dense weights tried, each in [0, 1]; the BM25 weight is 1 − w. 0 and 1 are always added. */
  denseWeights: number[];
  /** RRF constant k for the `rrf` method. */
  rrfK: number;
  /** Hits fetched from each retriever per query. */
  candidates: number;
}

export const DEFAULT_FUSION_TUNE_CONFIG: Readonly<FusionTuneConfig> = Object.freeze({
  methods: [...FUSION_METHODS],
  denseWeights: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  rrfK: DEFAULT_HYBRID_CONFIG.k,
  candidates: DEFAULT_HYBRID_CONFIG.candidates,
});

/** Fills defaults, adds the endpoints 0 and 1, sorts the weights; errors name the bad value. */
export function validateFusionTuneConfig(config: Partial<FusionTuneConfig> = {}): FusionTuneConfig {
  const c = { ...DEFAULT_FUSION_TUNE_CONFIG, ...config };
  if (c.methods.length === 0)
    throw new Error(`fusion tuning: methods must name at least one of ${FUSION_METHODS.join(', ')}`);
  for (const m of c.methods)
    if (!(FUSION_METHODS as readonly string[]).includes(m))
      throw new Error(`fusion tuning: unknown method "${m}" (valid: ${FUSION_METHODS.join(', ')})`);
  for (const w of c.denseWeights)
    if (!(Number.isFinite(w) && w >= 0 && w <= 1))
      throw new Error(`fusion tuning: dense weights must be numbers in [0, 1], got ${w}`);
  const weights = [...new Set([0, ...c.denseWeights, 1])].sort((a, b) => a - b);
  validateHybridConfig({ k: c.rrfK, candidates: c.candidates });
  return { methods: [...new Set(c.methods)], denseWeights: weights, rrfK: c.rrfK, candidates: c.candidates };
}

/** One grid point and its validation score. */
export interface FusionGridPoint {
  method: FusionMethod;
  weights: { dense: number; bm25: number };
  score: number;
}

/** What tuning chose, as stored in an index directory's `fusion.json`. */
export interface FusionChoice {
  /** File format version. */
  version: 1;
  /** The metric maximised. */
  metric: IrMetricName;
  /** The chosen fusion. */
  hybrid: HybridConfig;
  validation: {
    /** Validation queries scored. */
    queries: number;
    /** Queries left out (no relevant id, or none in the index). */
    skipped: number;
    /** Mean metric of the chosen fusion, of BM25 alone, and of dense alone. */
    score: number;
    bm25: number;
    dense: number;
  };
  /** Fingerprint of the encoder whose dense index was tuned (null when unknown): another encoder's index needs tuning again. */
  encoderFingerprint: string | null;
  /** Every grid point in the order tried (methods, then ascending dense weight). */
  grid: FusionGridPoint[];
  /** ISO time of tuning. */
  tunedAt: string;
}

/** The encoder fingerprint a dense index records (null for other retrievers). */
function denseFingerprint(r: Retrieval): string | null {
  const f = (r as { fingerprint?: unknown }).fingerprint;
  return typeof f === 'string' ? f : null;
}

/** A retriever answering from precomputed lists (one per query text). */
class CachedRetrieval implements Retrieval {
  constructor(private readonly lists: Map<string, Hit[]>) {}
  async search(query: string, opts: RetrievalOptions): Promise<Hit[]> {
    const hits = this.lists.get(query);
    if (!hits) throw new Error(`fusion tuning: no cached hits for query ${JSON.stringify(query)}`);
    return hits.slice(0, opts.k);
  }
}

async function cache(r: Retrieval, texts: string[], depth: number, batch = 64): Promise<CachedRetrieval> {
  const lists = new Map<string, Hit[]>();
  for (let i = 0; i < texts.length; i += batch) {
    const part = texts.slice(i, i + batch);
    const hits = await searchAll(r, part, { k: depth });
    part.forEach((t, j) => lists.set(t, hits[j]!));
  }
  return new CachedRetrieval(lists);
}

/**
 * Scores the grid on validation queries and returns the best fusion (the first in grid order
 * among equal scores). `passageIds` (the indexed ids) makes queries whose relevant ids are not in
 * the index count as skipped instead of as zeros.
 *
 * @example
 * const choice = await tuneFusion(denseIndex, bm25, valQueries, valQrels);
 * const hybrid = new HybridRetrieval(denseIndex, bm25, choice.hybrid);
 */
export async function tuneFusion(
  dense: Retrieval,
  bm25: Retrieval,
  queries: readonly IrQuery[],
  qrels: Qrels,
  config: Partial<FusionTuneConfig> = {},
  opts: { passageIds?: Iterable<string>; encoderFingerprint?: string } = {},
): Promise<FusionChoice> {
  const c = validateFusionTuneConfig(config);
  const evaluator = new IrEvaluator(queries, qrels, { passageIds: opts.passageIds ?? null });
  const texts = [...new Set(evaluator.queries.map((q) => q.text))];
  const [d, b] = [await cache(dense, texts, c.candidates), await cache(bm25, texts, c.candidates)];
  const metric = PRIMARY_IR_METRIC;
  const grid: FusionGridPoint[] = [];
  let best: { point: FusionGridPoint; hybrid: HybridConfig } | null = null;
  for (const method of c.methods) {
    for (const w of c.denseWeights) {
      const hybrid = validateHybridConfig({
        method,
        k: c.rrfK,
        candidates: c.candidates,
        weights: { dense: w, bm25: 1 - w },
      });
      const score = (await evaluator.evaluate(new HybridRetrieval(d, b, hybrid)))[metric]!;
      const point = { method, weights: { ...hybrid.weights }, score };
      grid.push(point);
      if (!best || score > best.point.score) best = { point, hybrid };
    }
  }
  const bm25Score = (await evaluator.evaluate(b))[metric]!;
  const denseScore = (await evaluator.evaluate(d))[metric]!;
  return {
    version: 1,
    metric,
    hybrid: best!.hybrid,
    validation: {
      queries: evaluator.queries.length,
      skipped: evaluator.skipped.noJudgements + evaluator.skipped.notInIndex,
      score: best!.point.score,
      bm25: bm25Score,
      dense: denseScore,
    },
    encoderFingerprint: opts.encoderFingerprint ?? denseFingerprint(dense),
    grid,
    tunedAt: new Date().toISOString(),
  };
}
