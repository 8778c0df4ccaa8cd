/** Shared plumbing of the commands: engine start, loading artifacts, output. */
import type { Command } from 'commander';
import { initEngine } from '@dalm/core';
import { IndexDir, loadEncoder, loadPassages, recordedRetriever, type Encoder, type Passage } from '@dalm/retriever';
import { checkModelSize, type ModelSize } from '@dalm/trainer';
import { engineOption, type GlobalOptions } from './global';

export async function startEngine(cmd: Command): Promise<void> {
  await initEngine({ backend: engineOption(cmd.optsWithGlobals() as GlobalOptions) });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function checkSize(size: string): ModelSize {
  return checkModelSize(size);
}

/** Opens an index directory with the retriever given, else the one recorded in it, else BM25 only. */
export async function openIndex(indexDir: string, retrieverDir?: string): Promise<{ index: IndexDir; encoder: Encoder | null }> {
  const dir = retrieverDir ?? (await recordedRetriever(indexDir));
  const encoder = dir ? await loadEncoder(dir) : null;
  return { index: await IndexDir.open(indexDir, encoder), encoder };
}

/** Passages of a corpus given as a file/dir, kept whole per record (ids preserved). */
export async function corpusPassages(source: string): Promise<Passage[]> {
  return loadPassages(source, { chunk: null });
}
