/** Shared plumbing of the commands: engine start, loading artifacts, output. */
import type { Command } from 'commander';
import { initEngine, type InferenceRuntimeChoice } from '@dalm/core';
import { IndexDir, loadPassages, loadRetriever, recordedRetriever, type Passage, type RetrieverEmbedder } from '@dalm/retriever';
import { checkModelSize, type ModelSize } from '@dalm/trainer';
import { engineOption, type GlobalOptions } from './global';
import { readOptions } from './options';
import { RUNTIME_OPTIONS, type RuntimeCliConfig } from './specs';

export async function startEngine(cmd: Command): Promise<void> {
  await initEngine({ backend: engineOption(cmd.optsWithGlobals() as GlobalOptions) });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function checkSize(size: string): ModelSize {
  return checkModelSize(size);
}

/**
 * Opens an index directory with the retriever given, else the one recorded in it, else BM25 only;
 * the retriever runs on `runtime` (default auto: ONNX Runtime when installed).
 */
export async function openIndex(
  indexDir: string,
  retrieverDir?: string,
  runtime: InferenceRuntimeChoice = 'auto',
): Promise<{ index: IndexDir; encoder: RetrieverEmbedder | null }> {
  const dir = retrieverDir ?? (await recordedRetriever(indexDir));
  const encoder = dir ? await loadRetriever(dir, { runtime }) : null;
  return { index: await IndexDir.open(indexDir, encoder), encoder };
}

/** Passages of a corpus given as a file/dir, kept whole per record (ids preserved). */
export async function corpusPassages(source: string): Promise<Passage[]> {
  return loadPassages(source, { chunk: null });
}

/** The --runtime value ('auto' when not given). */
export function runtimeOption(opts: Record<string, unknown>): InferenceRuntimeChoice {
  return (readOptions<RuntimeCliConfig>(opts, RUNTIME_OPTIONS).runtime ?? 'auto') as InferenceRuntimeChoice;
}
