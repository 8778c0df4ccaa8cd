/**
 * A generator directory: an HF causal-LM directory (config.json, model.safetensors, tokenizer
 * files, generation_config.json) plus `prompt_format.json`; or a PEFT adapter directory
 * (adapter_config.json + adapter_model.safetensors + tokenizer + prompt format) whose
 * `base_model_name_or_path` names the base model directory (relative paths are resolved from the
 * adapter directory). A llama-family `.gguf` file is a generator too: model, tokenizer and chat
 * template all come from the one file.
 *
 * The prompt format is `prompt_format.json` when the directory has one (framework-trained models);
 * otherwise an instruct model (a `chat_template` in `tokenizer_config.json`, or
 * `tokenizer.chat_template` in a GGUF file) gets {@link CHAT_PROMPT_FORMAT} inside its chat
 * template, and any other model the default format.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  ggufTokenizer,
  ggufTokenizerFiles,
  isModelId,
  loadTokenizer,
  readGgufHeader,
  readJsonObject,
  resolveModel,
  TOKENIZER_CONFIG_FILE,
  type Tokenizer,
} from '@dalm/core';
import type { CausalLM } from './causal-lm';
import { chatTemplateFromTokenizerConfig, templateSpecialTokens } from './chat-template';
import { isGgufPath, loadGgufCausalLM } from './gguf-model';
import { loadCausalLM, saveCausalLM } from './load';
import {
  CHAT_PROMPT_FORMAT,
  DEFAULT_PROMPT_FORMAT,
  loadPromptFormat,
  PROMPT_FORMAT_FILE,
  savePromptFormat,
  type PromptFormat,
} from './prompt-format';
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
    const ownTokenizer = await exists(path.join(dir, 'tokenizer.json'));
    const tokenizer =
      ownTokenizer || !isGgufPath(base)
        ? await loadTokenizer(ownTokenizer ? dir : base)
        : await ggufBaseTokenizer(base);
    return { model, tokenizer, format: await loadPromptFormat(dir), lora };
  }
  if (isGgufPath(dir)) {
    const { model, header } = await loadGgufCausalLM(dir);
    const { config } = ggufTokenizerFiles(header, dir);
    return { model, tokenizer: ggufTokenizer(header, dir), format: promptFormatFor(config, dir), lora: null };
  }
  const model = await loadCausalLM(dir);
  const tokenizer = await loadTokenizer(dir);
  if (await exists(path.join(dir, PROMPT_FORMAT_FILE)))
    return { model, tokenizer, format: await loadPromptFormat(dir), lora: null };
  const configPath = path.join(dir, TOKENIZER_CONFIG_FILE);
  const config = (await exists(configPath)) ? await readJsonObject(configPath) : {};
  return { model, tokenizer, format: promptFormatFor(config, configPath), lora: null };
}

/** The prompt format of a model without `prompt_format.json`: its chat template if it has one, else the default. */
function promptFormatFor(tokenizerConfig: Record<string, unknown>, source: string): PromptFormat {
  const template = chatTemplateFromTokenizerConfig(tokenizerConfig, source);
  if (template === null) return { ...DEFAULT_PROMPT_FORMAT };
  return { ...CHAT_PROMPT_FORMAT, chat: { template, specialTokens: templateSpecialTokens(tokenizerConfig) } };
}

async function ggufBaseTokenizer(file: string): Promise<Tokenizer> {
  return ggufTokenizer(await readGgufHeader(file), file);
}

/** Saves a full generator directory (LoRA updates, if any, must be merged first). */
export async function saveGenerator(
  dir: string,
  model: CausalLM,
  tokenizer: Tokenizer,
  format: PromptFormat,
): Promise<void> {
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
  await saveLoraAdapter(
    dir,
    model,
    lora,
    hubBase ? baseDir : path.relative(path.resolve(dir), path.resolve(baseDir)) || '.',
  );
  for (const [name, content] of Object.entries(tokenizer.toFiles())) await fsp.writeFile(path.join(dir, name), content);
  await savePromptFormat(dir, format);
}
