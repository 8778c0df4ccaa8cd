/**
 * Hard-negative mining: for each training pair, passages a retriever ranks high that are not the
 * positive. Candidates come from any `Retrieval` (BM25, or the current dense model).
 *
 * False-negative filter: an unlabelled passage that scores at least as well as the positive is
 * often relevant too (the labels are incomplete). Candidates whose score exceeds
 * `positiveScore − margin·|positiveScore|` (relative margin, so it works for BM25's unbounded
 * scores and cosine similarities alike) are skipped; with margin 0 only candidates scoring
 * above the positive are dropped. When the positive's score is unknown, the top `skipTop` hits
 * are skipped instead.
 */
import type { Hit, Retrieval } from '@dalm/retriever';
import { searchAll } from '@dalm/retriever';
import type { TrainingPair } from './pairs';

export interface HardNegativeConfig {
  /** Hard negatives kept per pair. */
  count: number;
  /** How deep to search for candidates. */
  depth: number;
  /** Relative margin of the false-negative filter (0: drop only candidates above the positive). */
  margin: number;
  /** Hits skipped from the top when the positive's score is unknown. */
  skipTop: number;
}

export const DEFAULT_HARD_NEGATIVE_CONFIG: Readonly<HardNegativeConfig> = Object.freeze({
  count: 1,
  depth: 30,
  margin: 0.05,
  skipTop: 3,
});

/** Chooses negatives from `hits` for one pair (pure; exported for tests). */
export function pickNegatives(
  hits: readonly Hit[],
  positiveIds: ReadonlySet<string>,
  positiveText: string,
  config: HardNegativeConfig,
): Hit[] {
  const pos = hits.find((h) => positiveIds.has(h.id));
  const out: Hit[] = [];
  let rank = 0;
  for (const h of hits) {
    rank++;
    if (positiveIds.has(h.id) || h.passage.text === positiveText) continue;
    if (pos) {
      const threshold = pos.score - config.margin * Math.abs(pos.score);
      if (h.score > threshold) continue;
    } else if (rank <= config.skipTop) continue;
    out.push(h);
    if (out.length >= config.count) break;
  }
  return out;
}

/**
 * Adds `count` hard negatives to each pair. `positivesOf(pair)` gives all passage ids relevant to
 * the pair's query (e.g. every positive of a COVID-QA question), so none is used as a negative.
 */
export async function mineHardNegatives(
  pairs: readonly TrainingPair[],
  retrieval: Retrieval,
  config: Partial<HardNegativeConfig> = {},
  positivesOf: (pair: TrainingPair) => ReadonlySet<string> = (p) => new Set(p.positiveId ? [p.positiveId] : []),
): Promise<TrainingPair[]> {
  const c = { ...DEFAULT_HARD_NEGATIVE_CONFIG, ...config };
  const hits = await searchAll(
    retrieval,
    pairs.map((p) => p.query),
    { k: c.depth },
  );
  return pairs.map((pair, i) => {
    const negs = pickNegatives(hits[i], positivesOf(pair), pair.positive, c);
    return { ...pair, negatives: negs.map((h) => h.passage.text), negativeIds: negs.map((h) => h.id) };
  });
}
