/**
 * Building, loading and saving causal LMs as Hugging Face model directories: `config.json` (its
 * `model_type` picks the architecture), `model.safetensors` (or a sharded
 * `model.safetensors.index.json`), `generation_config.json` and the tokenizer files.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { resolveModel } from '@dalm/core';
import {
  readConfigJson,
  readJsonObject,
  readSafetensors,
  writeModelDir,
  type HostTensor,
  type SafetensorsMap,
  type Tokenizer,
} from '@dalm/core';
import { CAUSAL_LM_TYPES, type CausalLM, type CausalLMType } from './causal-lm';
import { validateDecoderConfig } from './decoder-config';
import { LlamaForCausalLM, llamaStateDict } from './llama';
import { Gpt2LMHeadModel, gpt2StateDict, validateGpt2Config } from './gpt2';

export const GENERATION_CONFIG_FILE = 'generation_config.json';
const WEIGHTS_FILE = 'model.safetensors';
const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

function modelTypeOf(config: Record<string, unknown>, source: string): CausalLMType {
  const t = config.model_type;
  if (typeof t !== 'string' || !(CAUSAL_LM_TYPES as readonly string[]).includes(t)) {
    throw new Error(`${source}: "model_type" must be one of ${CAUSAL_LM_TYPES.join(', ')}; got ${JSON.stringify(t)}`);
  }
  return t as CausalLMType;
}

/**
 * A randomly initialised model for `config` (an HF `config.json` object; `model_type` picks the
 * architecture, missing fields take that architecture's defaults).
 *
 * @example
 * const model = createCausalLM({ ...SMALL_DECODER_CONFIG, vocab_size: tok.vocabSize, bos_token_id: 1, eos_token_id: 2 }, 42);
 */
export function createCausalLM(config: Record<string, unknown> | { model_type: CausalLMType }, seed = 0, source = 'config'): CausalLM {
  const raw = config as Record<string, unknown>;
  const type = modelTypeOf(raw, source);
  if (type === 'gpt2') return new Gpt2LMHeadModel(validateGpt2Config(raw, source), seed);
  return new LlamaForCausalLM(validateDecoderConfig(raw, source), seed);
}

/** Reads `model.safetensors`, or every shard named by `model.safetensors.index.json`. */
async function readWeights(dir: string): Promise<{ tensors: SafetensorsMap; source: string }> {
  const single = path.join(dir, WEIGHTS_FILE);
  try {
    await fsp.access(single);
    return { tensors: await readSafetensors(single), source: single };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const indexPath = path.join(dir, WEIGHTS_INDEX_FILE);
  try {
    await fsp.access(indexPath);
  } catch {
    throw new Error(`${dir}: no ${WEIGHTS_FILE} (nor ${WEIGHTS_INDEX_FILE}) in the model directory`);
  }
  const index = await readJsonObject(indexPath);
  const map = index.weight_map;
  if (!map || typeof map !== 'object') throw new Error(`${indexPath}: missing "weight_map"`);
  const tensors: SafetensorsMap = new Map();
  for (const file of new Set(Object.values(map as Record<string, string>))) {
    const shard = path.join(dir, path.basename(String(file)));
    for (const [name, t] of await readSafetensors(shard)) tensors.set(name, t);
  }
  return { tensors, source: indexPath };
}

function toHost(tensors: SafetensorsMap, source: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${source}: tensor "${name}" has integer dtype ${t.dtype}; weights must be floating point`);
    out.set(name, { shape: t.shape, data: t.data });
  }
  return out;
}

/**
 * Loads an HF causal LM directory (`model_type` llama, qwen2 or gpt2). F16/BF16 weights are widened
 * to float32. Tied heads come from the embedding; every other parameter must be in the file.
 *
 * @example
 * const model = await loadCausalLM('/work/shared/fixtures/hf-tiny/llama-tiny');
 * model.vocabSize; // 136
 */
export async function loadCausalLM(nameOrDir: string): Promise<CausalLM> {
  const dir = await resolveModel(nameOrDir); // a local directory, or a Hub id org/name[@revision]
  const config = await readConfigJson(dir);
  const configPath = path.join(dir, 'config.json');
  const model = createCausalLM(config, 0, configPath);
  try {
    const { tensors, source } = await readWeights(dir);
    const host = toHost(tensors, source);
    const stateDict = model.modelType === 'gpt2' ? gpt2StateDict(host) : llamaStateDict(host, (model as LlamaForCausalLM).config);
    model.params.loadHost(stateDict, { source });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** The `generation_config.json` object for a model: its special-token ids plus `extra`. */
export function generationConfigJson(model: CausalLM, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { bos, eos, pad } = model.specialTokens;
  const out: Record<string, unknown> = {};
  if (bos !== null) out.bos_token_id = bos;
  if (eos.length) out.eos_token_id = eos.length === 1 ? eos[0] : eos;
  if (pad !== null) out.pad_token_id = pad;
  return { ...out, ...extra };
}

export interface SaveCausalLMOptions {
  /** Tokenizer whose files (`tokenizer.json`, `tokenizer_config.json`, …) are written alongside. */
  tokenizer?: Pick<Tokenizer, 'toFiles'>;
  /** Extra `generation_config.json` fields (e.g. `max_new_tokens`). */
  generationConfig?: Record<string, unknown>;
}

/**
 * Writes `dir` atomically as an HF model directory that `loadCausalLM` and `transformers` read:
 * `config.json`, `model.safetensors` (float32, PyTorch layouts, the tied head omitted as HF does,
 * LoRA matrices excluded: merge them first), `generation_config.json` and the tokenizer files.
 *
 * @example
 * await saveCausalLM(model, 'runs/generator', { tokenizer: tok });
 */
export async function saveCausalLM(model: CausalLM, dir: string, opts: SaveCausalLMOptions = {}): Promise<void> {
  const tensors = await model.params.toHostAsync((name) => model.isSavedParam(name));
  const extraFiles: Record<string, string> = {
    [GENERATION_CONFIG_FILE]: JSON.stringify(generationConfigJson(model, opts.generationConfig), null, 2) + '\n',
    ...(opts.tokenizer?.toFiles() ?? {}),
  };
  await writeModelDir(dir, { config: model.configJson(), tensors, extraFiles });
}
