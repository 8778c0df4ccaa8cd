/**
 * A generator directory: an HF causal-LM directory (config.json, model.safetensors, tokenizer
 * files, generation_config.json) plus `prompt_format.json`; or a PEFT adapter directory
 * (adapter_config.json + adapter_model.safetensors + tokenizer + prompt format) whose
 * `base_model_name_or_path` names the base model directory (relative paths are resolved from the
 * adapter directory).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isModelId, loadTokenizer, resolveModel, type Tokenizer } from '@dalm/core';
import type { CausalLM } from './causal-lm';
import { loadCausalLM, saveCausalLM } from './load';
import { loadPromptFormat, savePromptFormat, type PromptFormat } from './prompt-format';
import { ADAPTER_CONFIG_FILE, loadLoraAdapter, readLoraConfig, saveLoraAdapter, type LoraConfig } from './lora';

export interface LoadedGenerator {
  model: CausalLM;
  tokenizer: Tokenizer;
  format: PromptFormat;
  /** The adapter's LoRA settings when `dir` was an adapter directory. */
  lora: LoraConfig | null;
}

const exists = (p: string) =>
  fsp
    .access(p)
    .then(() => true)
    .catch(() => false);

/**
 * Loads a generator directory (full model or PEFT adapter over its base). `nameOrDir` may be a Hub
 * id `org/name[@revision]` (fetched into the HF cache, see `resolveModel`); so may an adapter's
 * `base_model_name_or_path` when no directory of that name exists beside the adapter.
 *
 * @example
 * const { model, tokenizer } = await loadGenerator('HuggingFaceTB/SmolLM2-135M-Instruct');
 */
export async function loadGenerator(nameOrDir: string): Promise<LoadedGenerator> {
  const dir = await resolveModel(nameOrDir);
  if (await exists(path.join(dir, ADAPTER_CONFIG_FILE))) {
    const cfg = await readLoraConfig(dir);
    if (!cfg.baseModel) throw new Error(`${path.join(dir, ADAPTER_CONFIG_FILE)}: base_model_name_or_path is not set`);
    const local = path.resolve(dir, cfg.baseModel);
    const base = (await exists(local)) ? local : await resolveModel(cfg.baseModel);
    const model = await loadCausalLM(base);
    const lora = await loadLoraAdapter(dir, model);
    const tokenizer = await loadTokenizer((await exists(path.join(dir, 'tokenizer.json'))) ? dir : base);
    return { model, tokenizer, format: await loadPromptFormat(dir), lora };
  }
  const model = await loadCausalLM(dir);
  return { model, tokenizer: await loadTokenizer(dir), format: await loadPromptFormat(dir), lora: null };
}

/** Saves a full generator directory (LoRA updates, if any, must be merged first). */
export async function saveGenerator(dir: string, model: CausalLM, tokenizer: Tokenizer, format: PromptFormat): Promise<void> {
  await saveCausalLM(model, dir, { tokenizer });
  await savePromptFormat(dir, format);
}

/**
 * Saves only the LoRA adapter (PEFT layout) with the tokenizer and prompt format; `baseDir` is
 * recorded relative to `dir`, or as given when it is a Hub id `org/name[@rev]` and no such path exists.
 */
export async function saveGeneratorAdapter(
  dir: string,
  model: CausalLM,
  tokenizer: Tokenizer,
  format: PromptFormat,
  lora: LoraConfig,
  baseDir: string,
): Promise<void> {
  const hubBase = isModelId(baseDir) && !(await exists(baseDir));
  await saveLoraAdapter(dir, model, lora, hubBase ? baseDir : path.relative(path.resolve(dir), path.resolve(baseDir)) || '.');
  for (const [name, content] of Object.entries(tokenizer.toFiles())) await fsp.writeFile(path.join(dir, name), content);
  await savePromptFormat(dir, format);
}
