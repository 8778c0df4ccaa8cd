/**
 * An index directory as the CLI and the pipelines use it: the passages, a BM25 index, and (when
 * built with an encoder) a dense index whose manifest holds the encoder's fingerprint. A small
 * `retriever.json` remembers where the encoder directory was, so `dalm search/ask` can find it;
 * the fingerprint check still guards against a changed or different encoder.
 *
 *   index/
 *     passages.jsonl  bm25.json                  (always)
 *     manifest.json   index.bin                  (dense: HNSW or exact)
 *     retriever.json  {"path": "../retriever"}   (where the encoder was loaded from, if any)
 *     fusion.json                                (the hybrid fusion chosen on validation data, if tuned)
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile } from '@dalm/core';
import type { Passage } from './passage';
import type { Embedder } from './embedder';
import type { Retrieval } from './retrieval';
import type { DenseIndex } from './dense-index';
import { MANIFEST_FILE } from './dense-index';
import { HnswIndex, type IndexConfig } from './hnsw-index';
import { ExactIndex } from './exact-index';
import { Bm25Index, type Bm25Config } from './bm25';
import { DEFAULT_HYBRID_CONFIG, HybridRetrieval, validateHybridConfig, type HybridConfig } from './hybrid';
import { FUSION_FILE, readFusionFile } from './fusion-file';
import type { FusionChoice } from './fusion-tuning';
import { loadDenseIndex } from './load-index';

export const RETRIEVER_REF_FILE = 'retriever.json';

/** Retrieval modes over an index directory. */
export const RETRIEVAL_MODES = ['dense', 'bm25', 'hybrid'] as const;
export type RetrievalMode = (typeof RETRIEVAL_MODES)[number];

export interface IndexDirConfig {
  /** Dense structure: approximate HNSW, or exact (brute force; best below ~10k passages). */
  denseKind: 'hnsw' | 'exact';
  /** HNSW / metric settings. */
  dense: Partial<IndexConfig>;
  bm25: Partial<Bm25Config>;
}

export const DEFAULT_INDEX_DIR_CONFIG: IndexDirConfig = { denseKind: 'hnsw', dense: {}, bm25: {} };

/** Builds BM25 (and dense, with an embedder) over `passages` and saves them into `dir`. */
export async function buildIndexDir(
  dir: string,
  passages: readonly Passage[],
  embedder: Embedder | null,
  config: Partial<IndexDirConfig> = {},
  encoderDir?: string,
): Promise<{ dense: DenseIndex | null; bm25: Bm25Index }> {
  const c = { ...DEFAULT_INDEX_DIR_CONFIG, ...config };
  if (passages.length === 0) throw new Error('index: no passages to index');
  const bm25 = Bm25Index.build(passages, c.bm25);
  let dense: DenseIndex | null = null;
  if (embedder) {
    dense =
      c.denseKind === 'exact'
        ? await ExactIndex.build(embedder, passages, c.dense.metric ? { metric: c.dense.metric } : {})
        : await HnswIndex.build(embedder, passages, c.dense);
    await dense.save(dir);
  }
  await bm25.save(dir);
  // A fusion tuned on the previous contents of the directory no longer applies.
  await fsp.rm(path.join(dir, FUSION_FILE), { force: true });
  if (encoderDir) {
    const rel = path.relative(path.resolve(dir), path.resolve(encoderDir));
    await atomicWriteFile(path.join(dir, RETRIEVER_REF_FILE), JSON.stringify({ path: rel }, null, 2) + '\n');
  }
  return { dense, bm25 };
}

/** The encoder directory recorded in an index directory (absolute), or null. */
export async function recordedRetriever(dir: string): Promise<string | null> {
  try {
    const ref = JSON.parse(await fsp.readFile(path.join(dir, RETRIEVER_REF_FILE), 'utf8')) as { path?: string };
    return typeof ref.path === 'string' ? path.resolve(dir, ref.path) : null;
  } catch {
    return null;
  }
}

/** Whether the directory holds a dense index. */
export async function hasDenseIndex(dir: string): Promise<boolean> {
  return fsp
    .access(path.join(dir, MANIFEST_FILE))
    .then(() => true)
    .catch(() => false);
}

/** Where a hybrid configuration came from. */
export type HybridSource = 'explicit' | 'fusion.json' | 'default';

/** An opened index directory. */
export class IndexDir {
  constructor(
    readonly dir: string,
    readonly bm25: Bm25Index,
    readonly dense: DenseIndex | null,
    /** The tuned fusion in `fusion.json`, if any. */
    readonly fusion: FusionChoice | null = null,
  ) {}

  /** Opens `dir`; the dense index is loaded only with an embedder (and must match its fingerprint). */
  static async open(dir: string, embedder: Embedder | null): Promise<IndexDir> {
    const bm25 = await Bm25Index.load(dir);
    const dense = embedder && (await hasDenseIndex(dir)) ? await loadDenseIndex(dir, embedder) : null;
    const fusion = await readFusionFile(dir);
    if (fusion?.encoderFingerprint && dense && fusion.encoderFingerprint !== dense.fingerprint) {
      dense.dispose();
      throw new Error(
        `${path.join(dir, FUSION_FILE)}: tuned for encoder ${fusion.encoderFingerprint}, but the dense index is from ${dense.fingerprint}: rerun \`dalm tune fusion --index ${dir} --qa VALIDATION\` or delete the file`,
      );
    }
    return new IndexDir(dir, bm25, dense, fusion);
  }

  /**
   * The fusion hybrid mode uses: the options given when any are (missing ones from the
   * defaults), else the tuned `fusion.json`, else the defaults (equal-weight RRF, k 60).
   */
  hybridConfig(explicit: Partial<HybridConfig> = {}): { config: HybridConfig; source: HybridSource } {
    const given = Object.values(explicit).some((v) => v !== undefined);
    if (given) return { config: validateHybridConfig(explicit), source: 'explicit' };
    if (this.fusion) return { config: validateHybridConfig(this.fusion.hybrid), source: 'fusion.json' };
    return { config: validateHybridConfig(DEFAULT_HYBRID_CONFIG), source: 'default' };
  }

  /** A retriever over this directory in the given mode; errors say what is missing. Hybrid fusion as in `hybridConfig`. */
  retrieval(mode: RetrievalMode, hybrid: Partial<HybridConfig> = {}): Retrieval {
    if (mode === 'bm25') return this.bm25;
    if (!this.dense) {
      throw new Error(`index ${this.dir}: mode "${mode}" needs a dense index and its retriever (build with --retriever, search with --retriever)`);
    }
    return mode === 'dense' ? this.dense : new HybridRetrieval(this.dense, this.bm25, this.hybridConfig(hybrid).config);
  }

  passages(): Passage[] {
    return this.bm25.allPassages();
  }

  dispose(): void {
    this.dense?.dispose();
  }
}
