/**
 * Exact (brute-force) dense index: scores the query against every stored vector. Same
 * interface and directory layout as `HnswIndex` (data file `vectors.f32`), for small
 * collections and as ground truth when measuring HNSW recall.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeDirAtomic } from './atomic-write';
import {
  DENSE_INDEX_FILES,
  EMBED_BATCH_SIZE,
  EXACT_DATA_FILE,
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

export interface ExactIndexConfig {
  /** Similarity: 'cosine' (vectors normalised on insert and query) or 'ip' (raw inner product). */
  metric: Metric;
}

export const DEFAULT_EXACT_INDEX_CONFIG: Readonly<ExactIndexConfig> = Object.freeze({ metric: 'cosine' });

export function validateExactIndexConfig(config: Partial<ExactIndexConfig> = {}): ExactIndexConfig {
  const c = { ...DEFAULT_EXACT_INDEX_CONFIG, ...config };
  if (!METRICS.includes(c.metric))
    throw new Error(`exact index config: metric must be one of ${METRICS.join(', ')}, got ${String(c.metric)}`);
  return c;
}

/** Copy of `v` scaled to unit length (zero stays zero). */
function normalized(v: Float32Array): Float32Array {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += v[i]! * v[i]!;
  const out = new Float32Array(v);
  if (sq > 0) {
    const inv = 1 / Math.sqrt(sq);
    for (let i = 0; i < out.length; i++) out[i]! *= inv;
  }
  return out;
}

/**
 * @example
 * const exact = await ExactIndex.build(embedder, passages, { metric: 'cosine' });
 * const truth = exact.searchVector(queryVec, { k: 10 });
 */
export class ExactIndex implements DenseIndex {
  readonly kind = 'exact' as const;
  readonly config: ExactIndexConfig;
  readonly embedder: Embedder;
  /** Fingerprint of the encoder that made the stored vectors (the embedder's, when the index was created). */
  readonly fingerprint: string;
  /** Row-major [capacity, dim]; rows [0, size) are live. */
  private data: Float32Array;
  private ids: string[] = [];
  private rowOf = new Map<string, number>();
  private passages = new Map<string, Passage>();
  private disposed = false;

  constructor(embedder: Embedder, config: Partial<ExactIndexConfig> = {}) {
    this.config = validateExactIndexConfig(config);
    this.embedder = embedder;
    this.fingerprint = embedder.fingerprint;
    this.data = new Float32Array(64 * embedder.dim);
  }

  static async build(
    embedder: Embedder,
    passages: readonly Passage[],
    config: Partial<ExactIndexConfig> = {},
    opts: { batchSize?: number } = {},
  ): Promise<ExactIndex> {
    checkUniqueIds(passages, 'ExactIndex.build');
    const index = new ExactIndex(embedder, config);
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
    return this.ids.length;
  }
  has(id: string): boolean {
    return this.passages.has(id);
  }
  getPassage(id: string): Passage | undefined {
    return this.passages.get(id);
  }

  private check(): void {
    if (this.disposed) throw new Error('ExactIndex: used after dispose()');
  }

  async add(passages: readonly Passage[]): Promise<void> {
    checkUniqueIds(passages, 'ExactIndex.add');
    this.addEmbedded(passages, await embedPassagesBatched(this.embedder, passages, EMBED_BATCH_SIZE, this.fingerprint));
  }

  addEmbedded(passages: readonly Passage[], vectors: readonly Float32Array[]): void {
    this.check();
    checkUniqueIds(passages, 'ExactIndex.addEmbedded');
    checkVectors(vectors, passages.length, this.dim, 'ExactIndex.addEmbedded');
    this.remove(passages.filter((p) => this.passages.has(p.id)).map((p) => p.id));
    const dim = this.dim;
    const needed = (this.ids.length + passages.length) * dim;
    if (needed > this.data.length) {
      const grown = new Float32Array(Math.max(needed, 2 * this.data.length));
      grown.set(this.data.subarray(0, this.ids.length * dim));
      this.data = grown;
    }
    passages.forEach((p, i) => {
      const row = this.ids.length;
      this.data.set(this.metric === 'cosine' ? normalized(vectors[i]!) : vectors[i]!, row * dim);
      this.ids.push(p.id);
      this.rowOf.set(p.id, row);
      this.passages.set(p.id, p);
    });
  }

  /** Removes by moving the last row into the removed one (so row order is not insertion order). */
  remove(ids: readonly string[]): number {
    this.check();
    const dim = this.dim;
    let removed = 0;
    for (const id of ids) {
      const row = this.rowOf.get(id);
      if (row === undefined) continue;
      const last = this.ids.length - 1;
      if (row !== last) {
        this.data.copyWithin(row * dim, last * dim, (last + 1) * dim);
        const moved = this.ids[last]!;
        this.ids[row] = moved;
        this.rowOf.set(moved, row);
      }
      this.ids.pop();
      this.rowOf.delete(id);
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

  /** The exact top k by similarity, best first (ties: lower row first). */
  searchVector(vec: Float32Array, opts: SearchOptions): Hit[] {
    this.check();
    checkK(opts.k, 'ExactIndex.search');
    checkVectors([vec], 1, this.dim, 'ExactIndex.search');
    const q = this.metric === 'cosine' ? normalized(vec) : vec;
    const n = this.ids.length;
    const k = Math.min(opts.k, n);
    const dim = this.dim;
    // Bounded min-heap of (score, row) holding the best k so far; heap[0] is the worst kept.
    const hs = new Float64Array(k);
    const hr = new Int32Array(k);
    let size = 0;
    const worse = (a: number, b: number): boolean => hs[a]! < hs[b]! || (hs[a] === hs[b] && hr[a]! > hr[b]!);
    const swap = (a: number, b: number): void => {
      const s = hs[a]!,
        r = hr[a]!;
      hs[a] = hs[b]!;
      hr[a] = hr[b]!;
      hs[b] = s;
      hr[b] = r;
    };
    const siftDown = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < size && worse(l, m)) m = l;
        if (r < size && worse(r, m)) m = r;
        if (m === i) return;
        swap(i, m);
        i = m;
      }
    };
    for (let row = 0; row < n; row++) {
      let s = 0;
      const off = row * dim;
      for (let j = 0; j < dim; j++) s += this.data[off + j]! * q[j]!;
      s = Math.fround(s);
      if (size < k) {
        hs[size] = s;
        hr[size] = row;
        for (let i = size++; i > 0; ) {
          const p = (i - 1) >> 1;
          if (!worse(i, p)) break;
          swap(i, p);
          i = p;
        }
      } else if (s > hs[0]!) {
        hs[0] = s;
        hr[0] = row;
        siftDown(0);
      }
    }
    const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => hs[b]! - hs[a]! || hr[a]! - hr[b]!);
    return order.map((i) => {
      const id = this.ids[hr[i]!]!;
      return { id, score: hs[i]!, passage: this.passages.get(id)! };
    });
  }

  /** Saves into `dir` atomically, keeping the directory's other files (BM25 beside it). */
  async save(dir: string): Promise<void> {
    await writeDirAtomic(dir, DENSE_INDEX_FILES, (tmp) => this.writeFiles(tmp));
  }

  /** Writes the manifest, data file and passages into an existing directory (not atomic; `save` is). */
  async writeFiles(dir: string): Promise<void> {
    this.check();
    const n = this.ids.length;
    const ids = [...this.ids];
    const bytes = new Uint8Array(this.data.buffer, this.data.byteOffset, n * this.dim * 4).slice();
    await writeFile(path.join(dir, PASSAGES_FILE), passagesToJsonl(ids.map((id) => this.passages.get(id)!)));
    const dataPath = path.join(dir, EXACT_DATA_FILE);
    await writeFile(dataPath, bytes);
    const manifest: DenseManifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      kind: 'exact',
      metric: this.metric,
      dim: this.dim,
      count: n,
      encoderFingerprint: this.fingerprint,
      created: new Date().toISOString(),
      dataFile: EXACT_DATA_FILE,
      dataBytes: (await stat(dataPath)).size,
      dataSha256: await sha256File(dataPath),
      ids,
    };
    await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest) + '\n');
  }

  /** Loads a directory written by `save`; same checks as `HnswIndex.load`. */
  static async load(dir: string, embedder: Embedder): Promise<ExactIndex> {
    const { manifest, dataPath, passages } = await openIndexDir(dir, 'exact', embedder);
    if (manifest.dataBytes !== manifest.count * manifest.dim * 4) {
      throw new Error(
        `corrupt index at ${dir}: ${manifest.dataFile} must hold ${manifest.count}×${manifest.dim} float32 values`,
      );
    }
    const buf = await readFile(dataPath);
    const index = new ExactIndex(embedder, { metric: manifest.metric });
    const data = new Float32Array(Math.max(manifest.count * manifest.dim, 64 * manifest.dim));
    data.set(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)));
    index.data = data;
    manifest.ids.forEach((id, row) => {
      index.ids.push(id);
      index.rowOf.set(id, row);
      index.passages.set(id, passages.get(id)!);
    });
    return index;
  }

  dispose(): void {
    this.disposed = true;
    this.data = new Float32Array(0);
  }
}
