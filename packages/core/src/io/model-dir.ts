/**
 * Hugging Face model directories: `config.json` + `model.safetensors` (+ any
 * tokenizer or settings files), read as a unit and written atomically.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteDir, atomicWriteFile } from './atomic';
import { readSafetensors, writeSafetensors, type SafetensorsMap, type WritableTensor } from './safetensors';

/** File names used in a model directory. */
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

/** What {@link writeModelDir} writes. */
export interface ModelDirContents {
  /** Written as `config.json` (pretty-printed). */
  config: Record<string, unknown>;
  /** Written as `model.safetensors` (F32/I32, sorted names, `{format: 'pt'}` metadata). */
  tensors: Record<string, WritableTensor> | Map<string, WritableTensor>;
  /** More files by relative path (e.g. `tokenizer.json`, `1_Pooling/config.json`): text as UTF-8, or bytes. */
  extraFiles?: Record<string, string | Uint8Array>;
  /** safetensors `__metadata__`; default `{format: 'pt'}`. */
  metadata?: Record<string, string>;
}

/**
 * Reads and parses a JSON object file; errors name the file.
 *
 * @example const cfg = await readJsonObject('model/generation_config.json');
 */
export async function readJsonObject(filePath: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(filePath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT' ? `${filePath}: file not found` : `${filePath}: cannot read (${code ?? (e as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${filePath}: malformed JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${filePath}: expected a JSON object at the top level`);
  }
  return json as Record<string, unknown>;
}

/**
 * Reads `<dir>/config.json`; a missing or malformed file is an error that names it.
 *
 * @example const cfg = await readConfigJson('fixtures/bert-tiny'); cfg.hidden_size; // 32
 */
export async function readConfigJson(dir: string): Promise<Record<string, unknown>> {
  return readJsonObject(path.join(dir, CONFIG_FILE));
}

/**
 * Refuses a config file that lacks a field the architecture cannot default (the sizes of the
 * network): without it, defaults would build a model of another shape and the error would blame a
 * tensor shape instead of the missing key.
 *
 * @example requireConfigFields(cfg, ['hidden_size', 'num_hidden_layers'], 'model/config.json');
 */
export function requireConfigFields(config: Record<string, unknown>, fields: readonly string[], file: string): void {
  const missing = fields.filter((f) => config[f] === undefined || config[f] === null);
  if (missing.length > 0)
    throw new Error(
      `${file}: missing ${missing.map((m) => `"${m}"`).join(', ')} (the model's sizes cannot be guessed)`,
    );
}

/**
 * Reads `config.json` and `model.safetensors` of a model directory.
 *
 * @example const { config, tensors } = await readModelDir('fixtures/gpt2-tiny');
 */
export async function readModelDir(dir: string): Promise<{ config: Record<string, unknown>; tensors: SafetensorsMap }> {
  const config = await readConfigJson(dir);
  const tensors = await readSafetensors(path.join(dir, WEIGHTS_FILE));
  return { config, tensors };
}

/** Rejects absolute paths and `..` segments so extra files stay inside the directory. */
function safeRelativePath(name: string): string {
  const norm = path.posix.normalize(name.replace(/\\/g, '/'));
  if (name === '' || path.isAbsolute(name) || norm.startsWith('../') || norm === '..' || norm === '.') {
    throw new Error(
      `writeModelDir: extra file name ${JSON.stringify(name)} must be a relative path inside the directory`,
    );
  }
  if (norm === CONFIG_FILE || norm === WEIGHTS_FILE) {
    throw new Error(
      `writeModelDir: extra file ${JSON.stringify(name)} would overwrite the ${norm} written from config/tensors`,
    );
  }
  return norm;
}

/**
 * Writes a model directory atomically: everything goes into a temporary
 * sibling directory, which then replaces `dir` as a whole. If anything fails,
 * an existing `dir` is left intact.
 *
 * @example
 * await writeModelDir('runs/retriever', { config, tensors, extraFiles: tokenizer.toFiles() });
 */
export async function writeModelDir(dir: string, contents: ModelDirContents): Promise<void> {
  const extras = Object.entries(contents.extraFiles ?? {}).map(
    ([name, data]) => [safeRelativePath(name), data] as const,
  );
  await atomicWriteDir(dir, async (tmp) => {
    // Each file is flushed (atomicWriteFile fsyncs) before the directory swap.
    await atomicWriteFile(path.join(tmp, CONFIG_FILE), JSON.stringify(contents.config, null, 2) + '\n');
    await writeSafetensors(path.join(tmp, WEIGHTS_FILE), contents.tensors, contents.metadata ?? { format: 'pt' });
    for (const [name, data] of extras) {
      await atomicWriteFile(path.join(tmp, name), data);
    }
  });
}
