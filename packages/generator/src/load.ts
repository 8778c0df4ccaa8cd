/**
 * Building, loading and saving causal LMs as Hugging Face model directories: `config.json` (its
 * `model_type` picks the architecture), `model.safetensors` (or a sharded
 * `model.safetensors.index.json`), `generation_config.json` and the tokenizer files.
 */
import path from 'node:path';
import { readConfigJson, requireConfigFields, resolveModel, writeModelDir, type Tokenizer } from '@dalm/core';
import { CAUSAL_LM_TYPES, type CausalLM, type CausalLMType } from './causal-lm';
import { validateLlamaConfig } from './llama-config';
import { LlamaForCausalLM, llamaParamName } from './llama';
import { Gpt2LMHeadModel, gpt2ParamName, validateGpt2Config } from './gpt2';
import { streamWeights } from './weights';
import { isGgufPath, loadGgufCausalLM } from './gguf-model';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

/** What the loader needs to know about one architecture: one row per HF `model_type`. */
interface Architecture {
  /** `config.json` keys without which the model cannot be built (refused naming the key, not defaulted). */
  readonly requiredFields: readonly string[];
  /** A randomly initialised model for `config`, and the parameter each checkpoint tensor fills (null: skipped, e.g. a tied head). */
  build(
    config: Record<string, unknown>,
    seed: number,
    source: string,
  ): { model: CausalLM; paramFor: (checkpointTensor: string) => string | null };
}

const LLAMA_FAMILY: Architecture = {
  requiredFields: ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size'],
  build(config, seed, source) {
    const model = new LlamaForCausalLM(validateLlamaConfig(config, source), seed);
    return { model, paramFor: (name) => llamaParamName(name, model.config) };
  },
};

/** The architectures this package builds, by HF `model_type`. */
const ARCHITECTURES: Readonly<Record<CausalLMType, Architecture>> = Object.freeze({
  llama: LLAMA_FAMILY,
  qwen2: LLAMA_FAMILY,
  gpt2: {
    requiredFields: ['vocab_size', 'n_embd', 'n_layer', 'n_head'],
    build: (config, seed, source) => ({
      model: new Gpt2LMHeadModel(validateGpt2Config(config, source), seed),
      paramFor: gpt2ParamName,
    }),
  },
});

function isCausalLMType(t: unknown): t is CausalLMType {
  return typeof t === 'string' && (CAUSAL_LM_TYPES as readonly string[]).includes(t);
}

function architectureOf(config: Record<string, unknown>, source: string): Architecture {
  const t = config.model_type;
  if (!isCausalLMType(t)) {
    throw new Error(`${source}: "model_type" must be one of ${CAUSAL_LM_TYPES.join(', ')}; got ${JSON.stringify(t)}`);
  }
  return ARCHITECTURES[t];
}

/**
 * A randomly initialised model for `config` (an HF `config.json` object; `model_type` picks the
 * architecture, missing fields take that architecture's defaults).
 *
 * @example
 * const model = createCausalLM({ ...SMALL_LLAMA_CONFIG, vocab_size: tok.vocabSize, bos_token_id: 1, eos_token_id: 2 }, 42);
 */
export function createCausalLM(
  config: Record<string, unknown> | { model_type: CausalLMType },
  seed = 0,
  source = 'config',
): CausalLM {
  const raw: Record<string, unknown> = { ...config };
  return architectureOf(raw, source).build(raw, seed, source).model;
}

/**
 * Loads an HF causal LM directory (`model_type` llama, qwen2 or gpt2), or a llama-family `.gguf`
 * file (see {@link loadGgufCausalLM}). F16/BF16 weights are widened to float32; sharded checkpoints
 * (`model.safetensors.index.json`) are read shard by shard, tensor by tensor, so peak memory stays
 * near one copy of the model. Tied heads come from the embedding; every other parameter must be in
 * the file(s).
 *
 * @example
 * const model = await loadCausalLM('/work/shared/fixtures/hf-tiny/llama-tiny');
 * model.vocabSize; // 136
 */
export async function loadCausalLM(nameOrDir: string): Promise<CausalLM> {
  const dir = await resolveModel(nameOrDir); // a local directory or .gguf file, or a Hub id org/name[@revision]
  if (isGgufPath(dir)) return (await loadGgufCausalLM(dir)).model;
  const config = await readConfigJson(dir);
  const configPath = path.join(dir, 'config.json');
  const arch = architectureOf(config, configPath);
  requireConfigFields(config, arch.requiredFields, configPath);
  const { model, paramFor } = arch.build(config, 0, configPath);
  try {
    await streamWeights(model.params, dir, paramFor);
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
