/** Shared plumbing of the commands: engine start, loading artifacts, output. */
import type { Command } from 'commander';
import {
  checkReplaceableOut,
  initEngine,
  INDEX_DIR_MARKERS,
  MODEL_DIR_MARKERS,
  type InferenceRuntimeChoice,
} from '@dalm/core';
import { loadPassages, openIndexWithRetriever, type Passage } from '@dalm/retriever';
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

/** Opens an index directory with its retriever (see `openIndexWithRetriever` in @dalm/retriever). */
export const openIndex = openIndexWithRetriever;

/** Passages of a corpus given as a file/dir, kept whole per record (ids preserved). */
export async function corpusPassages(source: string): Promise<Passage[]> {
  return loadPassages(source, { chunk: null });
}

/** What a command writes at an output path, for the replace guard. */
export type OutKind = 'index' | 'model';

/**
 * Refuses, before any work starts, an output path that must not be replaced: an existing file, a
 * directory holding the command's inputs, or a non-empty directory that is not an artifact of this
 * kind written by dalm (unless `--force`).
 */
export async function guardOut(
  out: string,
  kind: OutKind,
  opts: Record<string, unknown>,
  sources: readonly unknown[] = [],
  flag = '--out',
): Promise<void> {
  await checkReplaceableOut(out, {
    what: kind === 'index' ? 'index directory' : 'model directory',
    markers: kind === 'index' ? INDEX_DIR_MARKERS : MODEL_DIR_MARKERS,
    sources: sources.filter((s): s is string => typeof s === 'string' && s.length > 0),
    force: Boolean(opts.force),
    flag,
  });
}

/** The `--force` option of commands that replace an output directory. */
export const FORCE_OPTION_HELP = 'replace an existing --out directory even if dalm did not write it';

/** The --runtime value ('auto' when not given). */
export function runtimeOption(opts: Record<string, unknown>): InferenceRuntimeChoice {
  return (readOptions<RuntimeCliConfig>(opts, RUNTIME_OPTIONS).runtime ?? 'auto') as InferenceRuntimeChoice;
}
