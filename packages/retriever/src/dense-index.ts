/**
 * What the dense indexes (HNSW and exact) share: the `DenseIndex` interface, per-call
 * `SearchOptions`, the on-disk manifest, and the checks run when loading a directory.
 *
 * An index directory holds:
 * - `manifest.json`  format/version, kind, metric, dim, build parameters, count, the encoder
 *                    fingerprint, creation time, the data file's size and SHA-256, and the
 *                    passage ids (with their hnswlib labels for an HNSW index);
 * - `index.bin` (HNSW, hnswlib's own format) or `vectors.f32` (exact: float32 rows, little-endian);
 * - `passages.jsonl` the passages, one JSON object per line.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Embedder } from './embedder';
import { PASSAGES_FILE, readPassages, type Passage } from './passage';
import type { Hit, Retrieval, RetrievalOptions } from './retrieval';

/** Similarity used by a dense index: cosine (vectors normalised) or raw inner product. */
export type Metric = 'cosine' | 'ip';
export const METRICS: readonly Metric[] = ['cosine', 'ip'];

/** Per-call search options (load-time parameters live in the index config). */
export interface SearchOptions extends RetrievalOptions {
  /** HNSW candidate-list size at query time (raised to k when smaller); ignored by the exact index. Default 100. */
  efSearch?: number;
}

export const DEFAULT_EF_SEARCH = 100;

/** A dense vector index over passages; `score` in hits is the similarity (cosine or inner product). */
export interface DenseIndex extends Retrieval {
  readonly kind: 'hnsw' | 'exact';
  readonly metric: Metric;
  readonly dim: number;
  /** Number of (live) passages. */
  readonly size: number;
  /** Fingerprint of the encoder whose vectors the index holds (fixed when the index is built). */
  readonly fingerprint: string;
  /** Embeds the passages with the index's embedder and adds them; an existing id is replaced. */
  add(passages: readonly Passage[]): Promise<void>;
  /** Adds passages with precomputed vectors (one per passage, length `dim`). */
  addEmbedded(passages: readonly Passage[], vectors: readonly Float32Array[]): void;
  /** Removes passages by id (unknown ids are ignored); returns how many were removed. */
  remove(ids: readonly string[]): number;
  /** Best `k` passages for a query text (embedded with `embedQueries`) or a query vector. */
  search(query: string | Float32Array, opts: SearchOptions): Promise<Hit[]>;
  searchMany(queries: string[], opts: SearchOptions): Promise<Hit[][]>;
  has(id: string): boolean;
  getPassage(id: string): Passage | undefined;
  /** Writes the index directory atomically (other files in it, like `bm25.json`, are kept). */
  save(dir: string): Promise<void>;
  /** Writes this index's files into an existing directory, not atomically (`save` and `buildIndexDir` wrap it). */
  writeFiles(dir: string): Promise<void>;
  /** Frees the native index; the object is unusable afterwards. */
  dispose(): void;
}

export const MANIFEST_FILE = 'manifest.json';
export const HNSW_DATA_FILE = 'index.bin';
export const EXACT_DATA_FILE = 'vectors.f32';
/** Files a dense index owns in its directory (others are preserved on save). */
export const DENSE_INDEX_FILES = [MANIFEST_FILE, HNSW_DATA_FILE, EXACT_DATA_FILE, PASSAGES_FILE] as const;
export const MANIFEST_FORMAT = 'dalm-dense-index';
export const MANIFEST_VERSION = 1;

export interface DenseManifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  kind: 'hnsw' | 'exact';
  metric: Metric;
  dim: number;
  /** HNSW only. */
  M?: number;
  efConstruction?: number;
  seed?: number;
  count: number;
  encoderFingerprint: string;
  /** ISO-8601 time of the save. */
  created: string;
  dataFile: string;
  dataBytes: number;
  dataSha256: string;
  /** Passage ids; for HNSW aligned with `labels`, for exact aligned with the vector rows. */
  ids: string[];
  /** HNSW only: hnswlib label of each id. */
  labels?: number[];
  /** HNSW only: next unused label. */
  nextLabel?: number;
}

/** SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Reads and checks an index directory before any native code touches it: the directory and
 * manifest exist and parse, the kind matches, the embedder's fingerprint and dimension match
 * the manifest, and the data file has the recorded size and checksum. Returns the manifest,
 * the data file path and the passages by id.
 */
export async function openIndexDir(
  dir: string,
  kind: 'hnsw' | 'exact',
  embedder: Embedder,
): Promise<{ manifest: DenseManifest; dataPath: string; passages: Map<string, Passage> }> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`no index directory at ${dir}`);
  const manifest = await readManifest(dir);
  if (manifest.kind !== kind) {
    throw new Error(
      `${path.join(dir, MANIFEST_FILE)}: index kind is "${manifest.kind}", expected "${kind}" (use loadDenseIndex to load either)`,
    );
  }
  if (manifest.encoderFingerprint !== embedder.fingerprint) {
    throw new Error(
      `index at ${dir} was built with encoder fingerprint "${manifest.encoderFingerprint}", ` +
        `but the given embedder has fingerprint "${embedder.fingerprint}": load the matching encoder or rebuild the index`,
    );
  }
  if (manifest.dim !== embedder.dim) {
    throw new Error(`index at ${dir} has dimension ${manifest.dim}, but the embedder produces ${embedder.dim}`);
  }
  const dataPath = path.join(dir, manifest.dataFile);
  const dst = await stat(dataPath).catch(() => undefined);
  if (!dst?.isFile()) throw new Error(`corrupt index at ${dir}: data file ${manifest.dataFile} is missing`);
  if (dst.size !== manifest.dataBytes) {
    throw new Error(
      `corrupt index at ${dir}: ${manifest.dataFile} has ${dst.size} bytes, the manifest records ${manifest.dataBytes}`,
    );
  }
  if ((await sha256File(dataPath)) !== manifest.dataSha256) {
    throw new Error(`corrupt index at ${dir}: ${manifest.dataFile} does not match the checksum in ${MANIFEST_FILE}`);
  }
  const list = await readPassages(path.join(dir, PASSAGES_FILE));
  const passages = new Map(list.map((p) => [p.id, p]));
  for (const id of manifest.ids) {
    if (!passages.has(id)) {
      throw new Error(`corrupt index at ${dir}: passage "${id}" listed in ${MANIFEST_FILE} is not in ${PASSAGES_FILE}`);
    }
  }
  return { manifest, dataPath, passages };
}

/** Reads `manifest.json` and checks its fields; errors name the file and the bad field. */
export async function readManifest(dir: string): Promise<DenseManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    throw new Error(`not an index directory: ${file} is missing`);
  }
  let m: DenseManifest;
  try {
    m = JSON.parse(raw) as DenseManifest;
  } catch (e) {
    throw new Error(`corrupt index manifest ${file}: ${(e as Error).message}`);
  }
  const bad = (field: string, want: string): never => {
    throw new Error(
      `corrupt index manifest ${file}: field "${field}" must be ${want}, got ${JSON.stringify((m as unknown as Record<string, unknown>)?.[field])}`,
    );
  };
  if (typeof m !== 'object' || m === null) throw new Error(`corrupt index manifest ${file}: not a JSON object`);
  if (m.format !== MANIFEST_FORMAT) bad('format', `"${MANIFEST_FORMAT}"`);
  if (m.version !== MANIFEST_VERSION) bad('version', `${MANIFEST_VERSION} (this build reads only that version)`);
  if (m.kind !== 'hnsw' && m.kind !== 'exact') bad('kind', '"hnsw" or "exact"');
  if (!METRICS.includes(m.metric)) bad('metric', METRICS.map((x) => `"${x}"`).join(' or '));
  if (!Number.isInteger(m.dim) || m.dim < 1) bad('dim', 'a positive integer');
  if (typeof m.encoderFingerprint !== 'string') bad('encoderFingerprint', 'a string');
  if (typeof m.dataFile !== 'string' || m.dataFile.includes('/') || m.dataFile.includes('\\'))
    bad('dataFile', 'a file name');
  if (!Number.isInteger(m.dataBytes)) bad('dataBytes', 'an integer');
  if (typeof m.dataSha256 !== 'string') bad('dataSha256', 'a hex string');
  if (!Array.isArray(m.ids) || !m.ids.every((x) => typeof x === 'string')) bad('ids', 'an array of passage ids');
  if (m.count !== m.ids.length) bad('count', `the number of ids (${m.ids.length})`);
  if (m.kind === 'hnsw') {
    if (
      !Array.isArray(m.labels) ||
      m.labels.length !== m.ids.length ||
      !m.labels.every((x) => Number.isInteger(x) && x >= 0)
    ) {
      bad('labels', 'an array of non-negative integers, one per id');
    }
    if (!Number.isInteger(m.nextLabel)) bad('nextLabel', 'an integer');
    if (!Number.isInteger(m.M)) bad('M', 'an integer');
    if (!Number.isInteger(m.efConstruction)) bad('efConstruction', 'an integer');
  }
  return m;
}

/** Checks vectors from an embedder or a caller: one per passage, length `dim`, finite. */
export function checkVectors(vectors: readonly Float32Array[], count: number, dim: number, where: string): void {
  if (vectors.length !== count) throw new Error(`${where}: got ${vectors.length} vectors for ${count} passages`);
  vectors.forEach((v, i) => {
    if (!(v instanceof Float32Array) || v.length !== dim) {
      throw new Error(
        `${where}: vector ${i} must be a Float32Array of length ${dim}, got length ${(v as { length?: number })?.length}`,
      );
    }
    for (let j = 0; j < dim; j++) {
      if (!Number.isFinite(v[j]!)) throw new Error(`${where}: vector ${i} has a non-finite value at ${j}`);
    }
  });
}

/** Checks that a batch of passages has no repeated id. */
export function checkUniqueIds(passages: readonly Passage[], where: string): void {
  const seen = new Set<string>();
  for (const p of passages) {
    if (seen.has(p.id)) throw new Error(`${where}: passage id "${p.id}" appears twice in one call`);
    seen.add(p.id);
  }
}

/**
 * Throws when the embedder's weights changed since the index was built (e.g. the encoder was
 * trained further): its new vectors would not be comparable with the stored ones.
 */
export function assertSameEncoder(embedder: Embedder, indexFingerprint: string, where: string): void {
  if (embedder.fingerprint !== indexFingerprint) {
    throw new Error(
      `${where}: the index holds vectors from encoder fingerprint "${indexFingerprint}", but the embedder now has ` +
        `fingerprint "${embedder.fingerprint}" (weights changed since the index was built): rebuild the index`,
    );
  }
}

/** Embeds passage texts in batches, after checking the encoder is the index's. */
export async function embedPassagesBatched(
  embedder: Embedder,
  passages: readonly Passage[],
  batchSize: number,
  indexFingerprint: string = embedder.fingerprint,
): Promise<Float32Array[]> {
  assertSameEncoder(embedder, indexFingerprint, 'embedPassages');
  const out: Float32Array[] = [];
  for (let i = 0; i < passages.length; i += batchSize) {
    const vecs = await embedder.embedPassages(passages.slice(i, i + batchSize).map((p) => p.text));
    checkVectors(vecs, Math.min(batchSize, passages.length - i), embedder.dim, 'embedder.embedPassages');
    out.push(...vecs);
  }
  return out;
}

/** Embeds query texts, after checking the encoder is the index's, and checks the vectors. */
export async function embedQueryChecked(
  embedder: Embedder,
  texts: string[],
  indexFingerprint: string,
): Promise<Float32Array[]> {
  assertSameEncoder(embedder, indexFingerprint, 'embedQueries');
  const vecs = await embedder.embedQueries(texts);
  checkVectors(vecs, texts.length, embedder.dim, 'embedder.embedQueries');
  return vecs;
}

/** Batch size used when an index embeds passages itself. */
export const EMBED_BATCH_SIZE = 64;
