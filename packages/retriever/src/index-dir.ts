/**
 * An index directory as the CLI and the pipelines use it: the passages, a BM25 index, and (when
 * built with an encoder) a dense index whose manifest holds the encoder's fingerprint. A small
 * `retriever.json` remembers where the encoder directory was, so `dalm search/ask` can find it;
 * the fingerprint check still guards against a changed or different encoder.
 *
 *   index/
 *     passages.jsonl  bm25.json                  (always)
 *     manifest.json   index.bin                  (dense: HNSW or exact)
 *     retriever.json  {"path": "../retriever"}   (where the encoder was loaded from, if any;
 *                     or {"model": "org/name@rev"} when it was a Hub id, not a local path)
 *     fusion.json                                (the hybrid fusion chosen on validation data, if tuned)
 */
import { existsSync, promises as fsp } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteDir, isModelId, recoverInterruptedSwap } from '@dalm/core';
import type { Passage } from './passage';
import type { Embedder } from './embedder';
import type { Retrieval } from './retrieval';
import type { DenseIndex } from './dense-index';
import { DENSE_INDEX_FILES, MANIFEST_FILE } from './dense-index';
import { HnswIndex, type HnswIndexConfig } from './hnsw-index';
import { ExactIndex } from './exact-index';
import { BM25_INDEX_FILES, Bm25Index, type Bm25Config } from './bm25';
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
  dense: Partial<HnswIndexConfig>;
  bm25: Partial<Bm25Config>;
}

export const DEFAULT_INDEX_DIR_CONFIG: Readonly<IndexDirConfig> = Object.freeze({
  denseKind: 'hnsw',
  dense: {},
  bm25: {},
});

/**
 * Every file an index directory's writers own; anything else in the directory (a user's notes) is kept
 * by a rebuild. fusion.json is among them: a fusion tuned on the previous contents no longer applies.
 */
export const INDEX_DIR_FILES: readonly string[] = [
  ...new Set([...DENSE_INDEX_FILES, ...BM25_INDEX_FILES, RETRIEVER_REF_FILE, FUSION_FILE]),
];

/**
 * Builds BM25 (and dense, with an embedder) over `passages` and writes them into `dir` in one atomic
 * swap: the old directory stays whole until the new one is complete, and a rebuild without an
 * embedder leaves no stale dense files behind. Files the index does not own are carried over.
 */
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
  }
  await atomicWriteDir(
    dir,
    async (tmp) => {
      await dense?.writeFiles(tmp);
      await bm25.writeFiles(tmp);
      if (encoderDir) {
        const hubId = isModelId(encoderDir) && !(await pathExists(encoderDir));
        const ref = hubId
          ? { model: encoderDir }
          : { path: path.relative(path.resolve(dir), path.resolve(encoderDir)) };
        await writeFile(path.join(tmp, RETRIEVER_REF_FILE), JSON.stringify(ref, null, 2) + '\n');
      }
    },
    { keepOthers: { owned: INDEX_DIR_FILES } },
  );
  return { dense, bm25 };
}

const pathExists = (p: string) =>
  fsp.stat(p).then(
    () => true,
    () => false,
  );

/** The encoder recorded in an index directory: its directory (absolute), or the Hub id it was loaded by, or null. */
export async function recordedRetriever(dir: string): Promise<string | null> {
  try {
    const ref = JSON.parse(await fsp.readFile(path.join(dir, RETRIEVER_REF_FILE), 'utf8')) as {
      path?: string;
      model?: string;
    };
    if (typeof ref.model === 'string') return ref.model;
    return typeof ref.path === 'string' ? path.resolve(dir, ref.path) : null;
  } catch {
    return null;
  }
}

/** Whether the directory holds a dense index (its manifest is the mark). */
function hasDenseFilesSync(dir: string): boolean {
  return existsSync(path.join(dir, MANIFEST_FILE));
}

/** Whether the directory holds a dense index. */
export async function hasDenseIndex(dir: string): Promise<boolean> {
  return hasDenseFilesSync(dir);
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
    // A rebuild killed between its two renames leaves the old index beside the path: put it back.
    await recoverInterruptedSwap(dir);
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
      throw new Error(
        `index ${this.dir}: mode "${mode}" needs a dense index and its retriever (build with --retriever, search with --retriever)`,
      );
    }
    return mode === 'dense' ? this.dense : new HybridRetrieval(this.dense, this.bm25, this.hybridConfig(hybrid).config);
  }

  passages(): Passage[] {
    return this.bm25.allPassages();
  }

  /** Refuses to change an index whose dense part was not opened (it would go stale). */
  private checkWritable(what: string): void {
    if (!this.dense && hasDenseFilesSync(this.dir)) {
      throw new Error(
        `index ${this.dir}: ${what} needs its retriever too, because the index has a dense part (pass --retriever, or open it with the encoder)`,
      );
    }
  }

  /**
   * Adds passages to BM25 and the dense index (a passage whose id exists replaces it); `save()`
   * writes the change. Returns how many ids were new and how many replaced an existing passage.
   */
  async add(passages: readonly Passage[]): Promise<{ added: number; replaced: number }> {
    this.checkWritable('adding passages');
    const existing = new Set(this.bm25.allPassages().map((p) => p.id));
    const replaced = passages.filter((p) => existing.has(p.id)).length;
    this.bm25.add(passages);
    await this.dense?.add(passages);
    return { added: passages.length - replaced, replaced };
  }

  /** Removes passages by id from BM25 and the dense index; returns how many were found. */
  remove(ids: readonly string[]): number {
    this.checkWritable('removing passages');
    const n = this.bm25.remove(ids);
    this.dense?.remove(ids);
    return n;
  }

  /** Writes BM25 and the dense index back in one atomic swap (other files, like retriever.json, are kept). */
  async save(): Promise<void> {
    if (this.bm25.allPassages().length === 0)
      throw new Error(`index ${this.dir}: refusing to save an index with no passages left`);
    await atomicWriteDir(
      this.dir,
      async (tmp) => {
        await this.dense?.writeFiles(tmp);
        await this.bm25.writeFiles(tmp);
      },
      { keepOthers: { owned: [...new Set([...DENSE_INDEX_FILES, ...BM25_INDEX_FILES])] } },
    );
  }

  dispose(): void {
    this.dense?.dispose();
  }
}
