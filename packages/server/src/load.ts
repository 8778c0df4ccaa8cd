/** Loads the index, retriever and generator once, with the same library loaders as `dalm ask`. */
import type { InferenceRuntimeChoice } from '@dalm/core';
import {
  openIndexWithRetriever,
  type HybridConfig,
  type IndexDir,
  type RetrievalMode,
  type RetrieverEmbedder,
} from '@dalm/retriever';
import { RagPipeline, loadInferenceGenerator, type InferenceGenerator } from '@dalm/generator';
import path from 'node:path';

export interface ServeModelsOptions {
  /** Index directory (passages, BM25, dense index, fusion.json). */
  index: string;
  /** Generator directory. */
  generator: string;
  /** Retriever directory (default: the one recorded in the index). */
  retriever?: string;
  /** Inference runtime of retriever and generator (default auto). */
  runtime?: InferenceRuntimeChoice;
  /** Retrieval mode when a request does not say (default hybrid with a dense index, else bm25). */
  mode?: RetrievalMode;
  /** Explicit fusion settings (default: the index's fusion.json, else RRF). */
  hybrid?: Partial<HybridConfig>;
  /** Name reported by /v1/models (default: the generator directory's name). */
  modelId?: string;
}

/** Everything a server answers with, loaded once. */
export interface ServeModels {
  index: IndexDir;
  encoder: RetrieverEmbedder | null;
  generator: InferenceGenerator;
  defaultMode: RetrievalMode;
  hybrid: HybridConfig;
  modelId: string;
  /** A pipeline over `mode` retrieval (one per mode, built on first use). */
  pipeline(mode: RetrievalMode): RagPipeline;
  dispose(): void;
}

/** Loads the models of `opts` (see `ServeModelsOptions`). */
export async function loadServeModels(opts: ServeModelsOptions): Promise<ServeModels> {
  const runtime = opts.runtime ?? 'auto';
  const generator = await loadInferenceGenerator(opts.generator, { runtime });
  const { index, encoder } = await openIndexWithRetriever(opts.index, opts.retriever, runtime);
  return serveModelsFrom({
    index,
    encoder,
    generator,
    mode: opts.mode,
    hybrid: opts.hybrid,
    modelId: opts.modelId ?? path.basename(path.resolve(opts.generator)),
  });
}

/** Wraps already loaded parts (tests, or an app that loaded them itself). */
export function serveModelsFrom(parts: {
  index: IndexDir;
  encoder: RetrieverEmbedder | null;
  generator: InferenceGenerator;
  mode?: RetrievalMode;
  hybrid?: Partial<HybridConfig>;
  modelId: string;
}): ServeModels {
  const { index, encoder, generator } = parts;
  const defaultMode = parts.mode ?? (index.dense ? 'hybrid' : 'bm25');
  const hybrid = index.hybridConfig(parts.hybrid ?? {}).config;
  const pipelines = new Map<RetrievalMode, RagPipeline>();
  return {
    index,
    encoder,
    generator,
    defaultMode,
    hybrid,
    modelId: parts.modelId,
    pipeline(mode) {
      let p = pipelines.get(mode);
      if (!p) {
        p = new RagPipeline(generator.model, generator.tokenizer, generator.format, index.retrieval(mode, hybrid));
        pipelines.set(mode, p);
      }
      return p;
    },
    dispose() {
      generator.model.dispose();
      index.dispose();
      encoder?.dispose();
    },
  };
}
