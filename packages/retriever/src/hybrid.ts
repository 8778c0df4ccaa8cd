/**
 * Hybrid retrieval: a dense and a BM25 ranking fused into one. Three fusion methods:
 *
 * - `rrf`, weighted reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
 *     rrf(d) = w_dense / (k + rank_dense(d)) + w_bm25 / (k + rank_bm25(d))
 *   ranks start at 1 and a retriever that did not return d within its `candidates` adds nothing.
 *   Only ranks are used, so the very different score scales of BM25 and cosine need no calibration.
 * - `minmax`, a convex combination of per-query min-max normalised scores
 *     s(d) = w_dense · (x − min)/(max − min) + w_bm25 · (y − min)/(max − min)
 *   over each retriever's candidate list (all 1 when max = min);
 * - `zscore`, the same with per-query z-scores (x − mean)/std (all 0 when std = 0).
 *   In both, a passage a retriever did not return gets that retriever's lowest normalised score
 *   (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023).
 *
 * A retriever with weight 0 is not consulted for candidates at all, so weights {dense: 0} rank
 * exactly as BM25 alone and {bm25: 0} exactly as dense alone (what lets a tuned fusion never be
 * worse than the better single system on the data it was tuned on). Ties are broken by the
 * better (smaller) single rank, then by id.
 */
import { checkK, type Hit, type Retrieval, type RetrievalOptions } from './retrieval';

/** Fusion methods: reciprocal-rank fusion, or a convex combination of normalised scores. */
export const FUSION_METHODS = ['rrf', 'minmax', 'zscore'] as const;
export type FusionMethod = (typeof FUSION_METHODS)[number];

export interface HybridConfig {
  /** How the two rankings are fused (see the file comment). */
  method: FusionMethod;
  /** RRF rank constant k (60 in the paper); larger flattens the difference between ranks. Only for `rrf`. */
  k: number;
  /** Weight of each retriever's term (≥ 0, not both 0). */
  weights: { dense: number; bm25: number };
  /** Hits requested from each retriever before fusion (at least the k of the search). */
  candidates: number;
}

export const DEFAULT_HYBRID_CONFIG: Readonly<HybridConfig> = Object.freeze({
  method: 'rrf',
  k: 60,
  weights: Object.freeze({ dense: 1, bm25: 1 }),
  candidates: 100,
});

/** Fills defaults and checks ranges; errors name the bad field and its valid values. */
export function validateHybridConfig(config: Partial<HybridConfig> = {}): HybridConfig {
  const c: HybridConfig = {
    ...DEFAULT_HYBRID_CONFIG,
    ...config,
    weights: { ...DEFAULT_HYBRID_CONFIG.weights, ...config.weights },
  };
  if (!(FUSION_METHODS as readonly string[]).includes(c.method))
    throw new Error(`hybrid config: method must be one of ${FUSION_METHODS.join(', ')}, got ${String(c.method)}`);
  if (!(Number.isFinite(c.k) && c.k >= 0)) throw new Error(`hybrid config: k must be a number ≥ 0, got ${c.k}`);
  for (const w of ['dense', 'bm25'] as const) {
    if (!(Number.isFinite(c.weights[w]) && c.weights[w] >= 0))
      throw new Error(`hybrid config: weights.${w} must be a number ≥ 0, got ${c.weights[w]}`);
  }
  if (c.weights.dense + c.weights.bm25 === 0)
    throw new Error('hybrid config: weights.dense and weights.bm25 cannot both be 0');
  if (!Number.isInteger(c.candidates) || c.candidates < 1)
    throw new Error(`hybrid config: candidates must be an integer ≥ 1, got ${c.candidates}`);
  return c;
}

interface Fused {
  hit: Hit;
  score: number;
  best: number;
}

const byFusedScore = (x: Fused, y: Fused) =>
  y.score - x.score || x.best - y.best || (x.hit.id < y.hit.id ? -1 : x.hit.id > y.hit.id ? 1 : 0);

/**
 * Fuses ranked hit lists by weighted RRF; each hit's `score` becomes its fused score. Lists of
 * weight 0 are ignored.
 *
 * @example
 * fuseRrf([[a, b], [b, c]], [1, 1], 60) // b first: 1/62 + 1/61
 */
export function fuseRrf(lists: readonly (readonly Hit[])[], weights: readonly number[], k: number): Hit[] {
  const fused = new Map<string, Fused>();
  lists.forEach((hits, li) => {
    const w = weights[li] ?? 1;
    if (w === 0) return;
    hits.forEach((hit, i) => {
      const rank = i + 1;
      const e = fused.get(hit.id);
      if (e) {
        e.score += w / (k + rank);
        e.best = Math.min(e.best, rank);
      } else fused.set(hit.id, { hit, score: w / (k + rank), best: rank });
    });
  });
  return [...fused.values()].sort(byFusedScore).map((e) => ({ id: e.hit.id, score: e.score, passage: e.hit.passage }));
}

/** Per-query normalisation of one list's scores: min-max to [0, 1], or z-scores. */
export function normalizeScores(scores: readonly number[], method: 'minmax' | 'zscore'): number[] {
  if (scores.length === 0) return [];
  if (method === 'minmax') {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of scores) {
      lo = Math.min(lo, s);
      hi = Math.max(hi, s);
    }
    return hi > lo ? scores.map((s) => (s - lo) / (hi - lo)) : scores.map(() => 1);
  }
  const mu = scores.reduce((a, b) => a + b, 0) / scores.length;
  const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mu) ** 2, 0) / scores.length);
  return sd > 0 ? scores.map((s) => (s - mu) / sd) : scores.map(() => 0);
}

/**
 * Fuses ranked hit lists by a weighted sum of normalised scores; a hit missing from a list gets
 * that list's lowest normalised score. Lists of weight 0 are ignored.
 *
 * @example
 * fuseScores([denseHits, bm25Hits], [0.3, 0.7], 'minmax')
 */
export function fuseScores(
  lists: readonly (readonly Hit[])[],
  weights: readonly number[],
  method: 'minmax' | 'zscore',
): Hit[] {
  const used = lists.map((hits, li) => ({ hits, w: weights[li] ?? 1 })).filter((l) => l.w !== 0);
  const norms = used.map((l) =>
    normalizeScores(
      l.hits.map((h) => h.score),
      method,
    ),
  );
  const floor = norms.map((n) => (n.length ? Math.min(...n) : 0));
  const fused = new Map<string, Fused>();
  used.forEach((l) => {
    l.hits.forEach((hit, i) => {
      const e = fused.get(hit.id);
      if (e) e.best = Math.min(e.best, i + 1);
      else fused.set(hit.id, { hit, score: 0, best: i + 1 });
    });
  });
  used.forEach((l, li) => {
    const seen = new Map(l.hits.map((h, i) => [h.id, norms[li]![i]!]));
    for (const [id, e] of fused) e.score += l.w * (seen.get(id) ?? floor[li]!);
  });
  return [...fused.values()].sort(byFusedScore).map((e) => ({ id: e.hit.id, score: e.score, passage: e.hit.passage }));
}

/** Fuses a dense and a BM25 hit list with `config`'s method and weights. */
export function fuseHybrid(dense: readonly Hit[], bm25: readonly Hit[], config: HybridConfig): Hit[] {
  const w = [config.weights.dense, config.weights.bm25];
  return config.method === 'rrf' ? fuseRrf([dense, bm25], w, config.k) : fuseScores([dense, bm25], w, config.method);
}

/**
 * @example
 * const hybrid = new HybridRetrieval(denseIndex, bm25, { method: 'minmax', weights: { dense: 0.3, bm25: 0.7 } });
 * const hits = await hybrid.search('symptoms of MERS', { k: 10 });
 */
export class HybridRetrieval implements Retrieval {
  readonly config: HybridConfig;
  constructor(
    readonly dense: Retrieval,
    readonly bm25: Retrieval,
    config: Partial<HybridConfig> = {},
  ) {
    this.config = validateHybridConfig(config);
  }

  async search(query: string, opts: RetrievalOptions): Promise<Hit[]> {
    return (await this.searchMany([query], opts))[0]!;
  }

  async searchMany(queries: string[], opts: RetrievalOptions): Promise<Hit[][]> {
    checkK(opts.k, 'HybridRetrieval.search');
    const depth = { k: Math.max(opts.k, this.config.candidates) };
    const run = async (r: Retrieval, w: number): Promise<Hit[][]> =>
      w === 0
        ? queries.map(() => [])
        : r.searchMany
          ? r.searchMany(queries, depth)
          : Promise.all(queries.map((q) => r.search(q, depth)));
    const [dense, bm25] = await Promise.all([
      run(this.dense, this.config.weights.dense),
      run(this.bm25, this.config.weights.bm25),
    ]);
    return queries.map((_, i) => fuseHybrid(dense[i]!, bm25[i]!, this.config).slice(0, opts.k));
  }
}
