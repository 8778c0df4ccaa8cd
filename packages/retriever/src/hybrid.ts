/**
 * Hybrid retrieval by reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
 *
 *   rrf(d) = w_dense / (k + rank_dense(d)) + w_bm25 / (k + rank_bm25(d))
 *
 * ranks start at 1 and a retriever that did not return d within its `candidates` adds nothing.
 * Only ranks are used, so the very different score scales of BM25 and cosine need no calibration.
 * Ties are broken by the better (smaller) single rank, then by id.
 */
import { checkK, type Hit, type Retrieval, type RetrievalOptions } from './retrieval';

export interface HybridConfig {
  /** RRF rank constant k (60 in the paper); larger flattens the difference between ranks. */
  k: number;
  /** Weight of each retriever's reciprocal-rank term (≥ 0, not both 0). */
  weights: { dense: number; bm25: number };
  /** Hits requested from each retriever before fusion (at least the k of the search). */
  candidates: number;
}

export const DEFAULT_HYBRID_CONFIG: HybridConfig = { k: 60, weights: { dense: 1, bm25: 1 }, candidates: 100 };

/** Fills defaults and checks ranges; errors name the bad field and its valid values. */
export function validateHybridConfig(config: Partial<HybridConfig> = {}): HybridConfig {
  const c: HybridConfig = {
    ...DEFAULT_HYBRID_CONFIG,
    ...config,
    weights: { ...DEFAULT_HYBRID_CONFIG.weights, ...config.weights },
  };
  if (!(Number.isFinite(c.k) && c.k >= 0)) throw new Error(`hybrid config: k must be a number ≥ 0, got ${c.k}`);
  for (const w of ['dense', 'bm25'] as const) {
    if (!(Number.isFinite(c.weights[w]) && c.weights[w] >= 0)) throw new Error(`hybrid config: weights.${w} must be a number ≥ 0, got ${c.weights[w]}`);
  }
  if (c.weights.dense + c.weights.bm25 === 0) throw new Error('hybrid config: weights.dense and weights.bm25 cannot both be 0');
  if (!Number.isInteger(c.candidates) || c.candidates < 1) throw new Error(`hybrid config: candidates must be an integer ≥ 1, got ${c.candidates}`);
  return c;
}

/**
 * Fuses ranked hit lists by weighted RRF; each hit's `score` becomes its fused score.
 *
 * @example
 * fuseRrf([[a, b], [b, c]], [1, 1], 60) // b first: 1/62 + 1/61
 */
export function fuseRrf(lists: readonly (readonly Hit[])[], weights: readonly number[], k: number): Hit[] {
  const fused = new Map<string, { hit: Hit; score: number; best: number }>();
  lists.forEach((hits, li) => {
    const w = weights[li] ?? 1;
    hits.forEach((hit, i) => {
      const rank = i + 1;
      const e = fused.get(hit.id);
      if (e) {
        e.score += w / (k + rank);
        e.best = Math.min(e.best, rank);
      } else fused.set(hit.id, { hit, score: w / (k + rank), best: rank });
    });
  });
  return [...fused.values()]
    .sort((x, y) => y.score - x.score || x.best - y.best || (x.hit.id < y.hit.id ? -1 : x.hit.id > y.hit.id ? 1 : 0))
    .map((e) => ({ id: e.hit.id, score: e.score, passage: e.hit.passage }));
}

/**
 * @example
 * const hybrid = new HybridRetrieval(denseIndex, bm25, { k: 60, weights: { dense: 1, bm25: 0.5 } });
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
    const run = async (r: Retrieval): Promise<Hit[][]> =>
      r.searchMany ? r.searchMany(queries, depth) : Promise.all(queries.map((q) => r.search(q, depth)));
    const [dense, bm25] = await Promise.all([run(this.dense), run(this.bm25)]);
    const { weights, k } = this.config;
    return queries.map((_, i) => fuseRrf([dense[i]!, bm25[i]!], [weights.dense, weights.bm25], k).slice(0, opts.k));
  }
}
