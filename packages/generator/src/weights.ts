/**
 * Streaming a checkpoint's weights into a model's parameters: `model.safetensors`, or the shards
 * named by `model.safetensors.index.json` (`weight_map`: tensor name → shard file). Tensors are
 * decoded one at a time (F16/BF16 widened to float32) and assigned to their variable before the
 * next is read, so peak memory stays near one copy of the model (plus one tensor in flight).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readJsonObject, readSafetensorsEach, type ParamStore } from '@dalm/core';

export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

const exists = (p: string) =>
  fsp
    .access(p)
    .then(() => true)
    .catch(() => false);

/** The weight files of a model directory, in reading order, and the file that named them. */
export interface WeightFiles {
  files: string[];
  /** `model.safetensors`, or the index file of a sharded checkpoint (for error messages). */
  source: string;
  /** For a sharded checkpoint: the shard each tensor must come from (by tensor name). */
  weightMap: Map<string, string> | null;
}

/** Finds `model.safetensors`, or validates `model.safetensors.index.json` and lists its shards. */
export async function weightFiles(dir: string): Promise<WeightFiles> {
  const single = path.join(dir, WEIGHTS_FILE);
  if (await exists(single)) return { files: [single], source: single, weightMap: null };
  const indexPath = path.join(dir, WEIGHTS_INDEX_FILE);
  if (!(await exists(indexPath)))
    throw new Error(`${dir}: no ${WEIGHTS_FILE} (nor ${WEIGHTS_INDEX_FILE}) in the model directory`);
  const index = await readJsonObject(indexPath);
  const map = index.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map))
    throw new Error(`${indexPath}: "weight_map" must be an object of tensor name -> shard file`);
  const weightMap = new Map<string, string>();
  const files: string[] = [];
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file === '' || path.basename(file) !== file) {
      throw new Error(
        `${indexPath}: weight_map["${name}"] must be a file name in the model directory, got ${JSON.stringify(file)}`,
      );
    }
    const shard = path.join(dir, file);
    if (!files.includes(shard)) {
      if (!(await exists(shard))) throw new Error(`${indexPath}: shard ${file} (named for "${name}") does not exist`);
      files.push(shard);
    }
    weightMap.set(name, shard);
  }
  if (files.length === 0) throw new Error(`${indexPath}: "weight_map" is empty`);
  return { files, source: indexPath, weightMap };
}

/**
 * Reads every weight file of `dir` tensor by tensor into `store`. `rename` maps a checkpoint
 * tensor name to the parameter it fills, or null to skip it (e.g. a tied `lm_head.weight`).
 * Every parameter must be filled exactly once; errors name the file and the tensor.
 *
 * @example
 * await streamWeights(model.params, 'checkpoints/llama', (n) => n);
 */
export async function streamWeights(
  store: ParamStore,
  dir: string,
  rename: (name: string) => string | null,
): Promise<void> {
  const { files, source, weightMap } = await weightFiles(dir);
  const loaded = new Set<string>();
  for (const file of files) {
    await readSafetensorsEach(file, (name, t) => {
      if (weightMap && weightMap.get(name) !== file) {
        throw new Error(`${file}: tensor "${name}" is not assigned to this shard by ${source}`);
      }
      const target = rename(name);
      if (target === null) return;
      if (!(t.data instanceof Float32Array))
        throw new Error(`${file}: tensor "${name}" has integer dtype ${t.dtype}; weights must be floating point`);
      if (loaded.has(target)) throw new Error(`${file}: tensor "${name}" fills parameter "${target}" a second time`);
      store.loadHost(new Map([[target, { shape: t.shape, data: t.data }]]), { strict: false, source: file });
      loaded.add(target);
    });
  }
  const missing = store.names().filter((n) => !loaded.has(n));
  if (missing.length) {
    throw new Error(
      `${source}: missing tensors ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''}`,
    );
  }
}
