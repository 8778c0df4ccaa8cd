/**
 * The interface shared by every retriever (dense index, BM25, hybrid), so evaluators, the
 * generator pipeline and the CLI can take any of them.
 */
import type { Passage } from './passage';

/** One retrieved passage. `score` is a similarity: higher is better (its scale depends on the retriever). */
export interface Hit {
  id: string;
  score: number;
  passage: Passage;
}

/** Per-call options shared by all retrievers. */
export interface RetrievalOptions {
  /** Number of hits to return (fewer when the collection is smaller). */
  k: number;
}

export interface Retrieval {
  /** The `k` best passages for `query`, best first. */
  search(query: string, opts: RetrievalOptions): Promise<Hit[]>;
  /** Optional batched form (e.g. dense retrievers embed all queries at once); same results as mapping `search`. */
  searchMany?(queries: string[], opts: RetrievalOptions): Promise<Hit[][]>;
}

/** Runs `searchMany` when the retriever has it, else `search` per query. */
export async function searchAll(retrieval: Retrieval, queries: string[], opts: RetrievalOptions): Promise<Hit[][]> {
  if (retrieval.searchMany) return retrieval.searchMany(queries, opts);
  const out: Hit[][] = [];
  for (const q of queries) out.push(await retrieval.search(q, opts));
  return out;
}

/** Checks a `k` option: a positive integer. */
export function checkK(k: number, where: string): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`${where}: k must be an integer ≥ 1, got ${k}`);
}
