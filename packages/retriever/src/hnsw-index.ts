/**
 * Approximate nearest-neighbour index over passages, backed by hnswlib (HNSW graphs,
 * Malkov & Yashunin 2016) through `hnswlib-node`. Passages can be added and removed without
 * a rebuild: removal marks the element deleted, and later additions reuse deleted slots;
 * the graph grows (resize) when full.
 *
 * Scores are similarities: cosine similarity for `metric: 'cosine'` (hnswlib normalises every
 * vector), the inner product for `'ip'` (hnswlib's distance is 1 − similarity for both).
 */
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import hnswlib from 'hnswlib-node';
import { writeDirAtomic } from './atomic-write';
import {
  DEFAULT_EF_SEARCH,
  DENSE_INDEX_FILES,
  EMBED_BATCH_SIZE,
  HNSW_DATA_FILE,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  METRICS,
  checkUniqueIds,
  checkVectors,
  embedPassagesBatched,
  embedQueryChecked,
  openIndexDir,
  sha256File,
  type DenseIndex,
  type DenseManifest,
  type Metric,
  type SearchOptions,
} from './dense-index';
import type { Embedder } from './embedder';
import { PASSAGES_FILE, passagesToJsonl, type Passage } from './passage';
import { checkK, type Hit } from './retrieval';

/** Build-time parameters of an HNSW index (recorded in its manifest). */
export interface HnswIndexConfig {
  /** Similarity: 'cosine' (vectors normalised) or 'ip' (inner product of vectors as given). */
  metric: Metric;
  /** Graph degree: links per node per layer (hnswlib's M); higher = better recall, more memory. */
  M: number;
  /** Candidate-list size while inserting; higher = better graph, slower build. */
  efConstruction: number;
  /** Seed of hnswlib's level generator, for reproducible graphs. */
  seed: number;
}

export const DEFAULT_HNSW_INDEX_CONFIG: Readonly<HnswIndexConfig> = Object.freeze({
  metric: 'cosine',
  M: 16,
  efConstruction: 200,
  seed: 100,
});

/** Fills defaults and checks ranges; errors name the bad field and its valid values. */
export function validateHnswIndexConfig(config: Partial<HnswIndexConfig> = {}): HnswIndexConfig {
  const c: HnswIndexConfig = { ...DEFAULT_HNSW_INDEX_CONFIG, ...config };
  if (!METRICS.includes(c.metric))
    throw new Error(`index config: metric must be one of ${METRICS.join(', ')}, got ${String(c.metric)}`);
  if (!Number.isInteger(c.M) || c.M < 2 || c.M > 1024)
    throw new Error(`index config: M must be an integer in [2, 1024], got ${c.M}`);
  if (!Number.isInteger(c.efConstruction) || c.efConstruction < 1) {
    throw new Error(`index config: efConstruction must be an integer ≥ 1, got ${c.efConstruction}`);
  }
  if (!Number.isInteger(c.seed) || c.seed < 0)
    throw new Error(`index config: seed must be a non-negative integer, got ${c.seed}`);
  return c;
}

/** Options of `HnswIndex.build` that are not part of the index itself. */
export interface BuildOptions {
  /** Passages embedded per `embedPassages` call (64 by default). */
  batchSize?: number;
}

const MIN_CAPACITY = 1024;

/**
 * @example
 * const index = await HnswIndex.build(embedder, passages, { metric: 'cosine', M: 16, efConstruction: 200 });
 * const hits = await index.search('what is the incubation period?', { k: 10, efSearch: 100 });
 * await index.save('out/index');
 * const again = await HnswIndex.load('out/index', embedder);
 */
export class HnswIndex implements DenseIndex {
  readonly kind = 'hnsw' as const;
  readonly config: HnswIndexConfig;
  readonly embedder: Embedder;
  /** Fingerprint of the encoder that made the stored vectors (the embedder's, when the index was created). */
  readonly fingerprint: string;
  private hnsw: hnswlib.HierarchicalNSW | null;
  private idToLabel = new Map<string, number>();
  private labelToId = new Map<number, string>();
  private passages = new Map<string, Passage>();
  private nextLabel = 0;

  /** An empty index; prefer `HnswIndex.build` or `HnswIndex.load`. */
  constructor(embedder: Embedder, config: Partial<HnswIndexConfig> = {}, capacity = MIN_CAPACITY) {
    this.config = validateHnswIndexConfig(config);
    this.embedder = embedder;
    this.fingerprint = embedder.fingerprint;
    this.hnsw = new hnswlib.HierarchicalNSW(this.config.metric, embedder.dim);
    this.hnsw.initIndex({
      maxElements: Math.max(capacity, 1),
      m: this.config.M,
      efConstruction: this.config.efConstruction,
      randomSeed: this.config.seed,
      allowReplaceDeleted: true,
    });
  }

  /** Embeds `passages` with `embedder.embedPassages` and builds an index over them. */
  static async build(
    embedder: Embedder,
    passages: readonly Passage[],
    config: Partial<HnswIndexConfig> = {},
    opts: BuildOptions = {},
  ): Promise<HnswIndex> {
    checkUniqueIds(passages, 'HnswIndex.build');
    const index = new HnswIndex(embedder, config, Math.max(MIN_CAPACITY, passages.length));
    index.addEmbedded(passages, await embedPassagesBatched(embedder, passages, opts.batchSize ?? EMBED_BATCH_SIZE));
    return index;
  }

  get metric(): Metric {
    return this.config.metric;
  }
  get dim(): number {
    return this.embedder.dim;
  }
  get size(): number {
    return this.passages.size;
  }
  /** Elements the native index can hold before it must be resized (deleted slots included). */
  get capacity(): number {
    return this.native().getMaxElements();
  }

  has(id: string): boolean {
    return this.passages.has(id);
  }
  getPassage(id: string): Passage | undefined {
    return this.passages.get(id);
  }
  /** The live passages, in label order. */
  allPassages(): Passage[] {
    return [...this.labelToId.entries()].sort((a, b) => a[0] - b[0]).map(([, id]) => this.passages.get(id)!);
  }

  private native(): hnswlib.HierarchicalNSW {
    if (!this.hnsw) throw new Error('HnswIndex: used after dispose()');
    return this.hnsw;
  }

  async add(passages: readonly Passage[]): Promise<void> {
    checkUniqueIds(passages, 'HnswIndex.add');
    this.addEmbedded(passages, await embedPassagesBatched(this.embedder, passages, EMBED_BATCH_SIZE, this.fingerprint));
  }

  addEmbedded(passages: readonly Passage[], vectors: readonly Float32Array[]): void {
    checkUniqueIds(passages, 'HnswIndex.addEmbedded');
    checkVectors(vectors, passages.length, this.dim, 'HnswIndex.addEmbedded');
    const hnsw = this.native();
    this.remove(passages.filter((p) => this.passages.has(p.id)).map((p) => p.id));
    // Slots in use include deleted ones, which addPoint(…, replaceDeleted=true) reuses first.
    const used = hnsw.getCurrentCount();
    const deleted = used - this.passages.size;
    const needed = used + Math.max(0, passages.length - deleted);
    if (needed > hnsw.getMaxElements()) hnsw.resizeIndex(Math.max(needed, 2 * hnsw.getMaxElements()));
    passages.forEach((p, i) => {
      const label = this.nextLabel++;
      hnsw.addPoint(Array.from(vectors[i]!), label, true);
      this.idToLabel.set(p.id, label);
      this.labelToId.set(label, p.id);
      this.passages.set(p.id, p);
    });
  }

  remove(ids: readonly string[]): number {
    const hnsw = this.native();
    let removed = 0;
    for (const id of ids) {
      const label = this.idToLabel.get(id);
      if (label === undefined) continue;
      hnsw.markDelete(label);
      this.idToLabel.delete(id);
      this.labelToId.delete(label);
      this.passages.delete(id);
      removed++;
    }
    return removed;
  }

  async search(query: string | Float32Array, opts: SearchOptions): Promise<Hit[]> {
    const vec =
      typeof query === 'string' ? (await embedQueryChecked(this.embedder, [query], this.fingerprint))[0]! : query;
    return this.searchVector(vec, opts);
  }

  async searchMany(queries: string[], opts: SearchOptions): Promise<Hit[][]> {
    const vecs = queries.length === 0 ? [] : await embedQueryChecked(this.embedder, queries, this.fingerprint);
    return vecs.map((v) => this.searchVector(v, opts));
  }

  /** Synchronous search by vector. */
  searchVector(vec: Float32Array, opts: SearchOptions): Hit[] {
    checkK(opts.k, 'HnswIndex.search');
    checkVectors([vec], 1, this.dim, 'HnswIndex.search');
    const hnsw = this.native();
    const k = Math.min(opts.k, this.passages.size);
    if (k === 0) return [];
    const ef = opts.efSearch ?? DEFAULT_EF_SEARCH;
    if (!Number.isInteger(ef) || ef < 1)
      throw new Error(`HnswIndex.search: efSearch must be an integer ≥ 1, got ${ef}`);
    hnsw.setEf(Math.max(ef, k));
    const { neighbors, distances } = hnsw.searchKnn(Array.from(vec), k);
    return neighbors.map((label, i) => {
      const id = this.labelToId.get(label)!;
      return { id, score: 1 - distances[i]!, passage: this.passages.get(id)! };
    });
  }

  /** Saves into `dir` atomically, keeping the directory's other files (BM25 beside it). */
  async save(dir: string): Promise<void> {
    await writeDirAtomic(dir, DENSE_INDEX_FILES, (tmp) => this.writeFiles(tmp));
  }

  /** Writes the manifest, data file and passages into an existing directory (not atomic; `save` is). */
  async writeFiles(dir: string): Promise<void> {
    const hnsw = this.native();
    const entries = [...this.labelToId.entries()].sort((a, b) => a[0] - b[0]);
    await writeFile(path.join(dir, PASSAGES_FILE), passagesToJsonl(entries.map(([, id]) => this.passages.get(id)!)));
    const dataPath = path.join(dir, HNSW_DATA_FILE);
    await hnsw.writeIndex(dataPath);
    const manifest: DenseManifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      kind: 'hnsw',
      metric: this.config.metric,
      dim: this.dim,
      M: this.config.M,
      efConstruction: this.config.efConstruction,
      seed: this.config.seed,
      count: entries.length,
      encoderFingerprint: this.fingerprint,
      created: new Date().toISOString(),
      dataFile: HNSW_DATA_FILE,
      dataBytes: (await stat(dataPath)).size,
      dataSha256: await sha256File(dataPath),
      ids: entries.map(([, id]) => id),
      labels: entries.map(([label]) => label),
      nextLabel: this.nextLabel,
    };
    await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest) + '\n');
  }

  /**
   * Loads an index directory written by `save`. Refuses an embedder whose fingerprint or
   * dimension differs from the manifest's, and a directory whose files are missing or corrupt.
   */
  static async load(dir: string, embedder: Embedder): Promise<HnswIndex> {
    const { manifest, dataPath, passages } = await openIndexDir(dir, 'hnsw', embedder);
    const index = new HnswIndex(
      embedder,
      {
        metric: manifest.metric,
        M: manifest.M!,
        efConstruction: manifest.efConstruction!,
        seed: manifest.seed ?? DEFAULT_HNSW_INDEX_CONFIG.seed,
      },
      1,
    );
    const hnsw = new hnswlib.HierarchicalNSW(manifest.metric, manifest.dim);
    try {
      await hnsw.readIndex(dataPath, true);
    } catch (e) {
      throw new Error(`corrupt index at ${dir}: hnswlib could not read ${manifest.dataFile} (${(e as Error).message})`);
    }
    if (hnsw.getCurrentCount() < manifest.count) {
      throw new Error(
        `corrupt index at ${dir}: ${manifest.dataFile} holds ${hnsw.getCurrentCount()} elements, the manifest lists ${manifest.count}`,
      );
    }
    index.hnsw = hnsw;
    manifest.ids.forEach((id, i) => {
      const label = manifest.labels![i]!;
      index.idToLabel.set(id, label);
      index.labelToId.set(label, id);
      index.passages.set(id, passages.get(id)!);
    });
    index.nextLabel = manifest.nextLabel!;
    return index;
  }

  dispose(): void {
    this.hnsw = null;
  }
}
