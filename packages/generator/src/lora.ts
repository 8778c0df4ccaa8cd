/**
 * LoRA adapters for a causal LM, saved and loaded in the PEFT layout so the files load with
 * `PeftModel.from_pretrained(base, dir)`:
 *   adapter_config.json          {peft_type: "LORA", r, lora_alpha, lora_dropout, target_modules, ...}
 *   adapter_model.safetensors    base_model.model.<module>.lora_A.weight [r, in]
 *                                base_model.model.<module>.lora_B.weight [out, r]
 *
 * @example
 * const names = applyLora(model, { r: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] });
 * // ... train: only lora_A / lora_B are trainable ...
 * await saveLoraAdapter('models/adapter', model, config, 'models/base');
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { atomicWriteDir, readSafetensors, writeSafetensors } from '@dalm/core';
import type { CausalLM } from './causal-lm';

export interface LoraConfig {
  /** Rank of the update. */
  r: number;
  /** Scale numerator: the update is multiplied by alpha / r. */
  alpha: number;
  /** Dropout on the LoRA branch input while training. */
  dropout: number;
  /** Module name suffixes to adapt (PEFT semantics: a module matches if its name ends with one). */
  targetModules: string[];
}

export const DEFAULT_LORA_CONFIG: Readonly<LoraConfig> = Object.freeze({
  r: 8,
  alpha: 16,
  dropout: 0.05,
  targetModules: ['q_proj', 'v_proj'],
});

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
const PEFT_PREFIX = 'base_model.model.';

export function validateLoraConfig(partial: Partial<LoraConfig> = {}): LoraConfig {
  const c = { ...DEFAULT_LORA_CONFIG, ...partial };
  if (!Number.isInteger(c.r) || c.r < 1) throw new Error(`lora: r must be an integer >= 1, got ${c.r}`);
  if (!(c.alpha > 0)) throw new Error(`lora: alpha must be > 0, got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`lora: dropout must be in [0, 1), got ${c.dropout}`);
  if (!c.targetModules.length)
    throw new Error('lora: targetModules must name at least one module (e.g. q_proj,v_proj)');
  return c;
}

const matches = (name: string, targets: readonly string[]) => targets.some((t) => name === t || name.endsWith(`.${t}`));

/**
 * Adds LoRA to every linear whose name matches `targetModules`, freezing all other parameters.
 * Returns the adapted module names. Throws, listing the model's module names, if nothing matches.
 */
export function applyLora(model: CausalLM, partial: Partial<LoraConfig> = {}): string[] {
  const c = validateLoraConfig(partial);
  const linears = model.linears();
  const targets = [...linears.keys()].filter((n) => matches(n, c.targetModules));
  if (targets.length === 0) {
    const kinds = [...new Set([...linears.keys()].map((n) => n.split('.').at(-1)))];
    throw new Error(
      `lora: no module matches target_modules [${c.targetModules.join(', ')}]; this model has: ${kinds.join(', ')}`,
    );
  }
  model.params.setTrainable(false);
  for (const name of targets) linears.get(name)!.enableLora({ rank: c.r, alpha: c.alpha, dropout: c.dropout });
  return targets;
}

const isLoraParam = (name: string) => /\.lora_[AB]\.weight$/.test(name);

/** Writes the adapter (PEFT layout) atomically. `baseModel` is recorded as base_model_name_or_path. */
export async function saveLoraAdapter(
  dir: string,
  model: CausalLM,
  config: LoraConfig,
  baseModel: string,
): Promise<void> {
  const host = await model.params.toHostAsync(isLoraParam);
  if (host.size === 0) throw new Error('saveLoraAdapter: the model has no LoRA parameters (call applyLora first)');
  const tensors = new Map([...host].map(([name, t]) => [PEFT_PREFIX + name, t]));
  const peftConfig = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: config.r,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    target_modules: config.targetModules,
    bias: 'none',
    fan_in_fan_out: model.modelType === 'gpt2',
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    use_rslora: false,
    use_dora: false,
  };
  await atomicWriteDir(dir, async (tmp) => {
    await writeSafetensors(path.join(tmp, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt' });
    await fsp.writeFile(path.join(tmp, ADAPTER_CONFIG_FILE), JSON.stringify(peftConfig, null, 2) + '\n');
  });
}

/** Reads `adapter_config.json` into a LoraConfig (plus the recorded base model). */
export async function readLoraConfig(dir: string): Promise<LoraConfig & { baseModel: string | null }> {
  const file = path.join(dir, ADAPTER_CONFIG_FILE);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await fsp.readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: cannot read the adapter config (${(e as Error).message})`);
  }
  if (raw.peft_type !== 'LORA')
    throw new Error(`${file}: peft_type is ${JSON.stringify(raw.peft_type)}, only "LORA" is supported`);
  const targets = raw.target_modules;
  const config = validateLoraConfig({
    r: Number(raw.r),
    alpha: Number(raw.lora_alpha),
    dropout: Number(raw.lora_dropout ?? 0),
    targetModules: Array.isArray(targets) ? targets.map(String) : typeof targets === 'string' ? [targets] : [],
  });
  return { ...config, baseModel: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : null };
}

/** Applies and loads a PEFT LoRA adapter directory onto `model` (its base weights must already be loaded). */
export async function loadLoraAdapter(dir: string, model: CausalLM): Promise<LoraConfig> {
  const config = await readLoraConfig(dir);
  applyLora(model, config);
  const file = path.join(dir, ADAPTER_WEIGHTS_FILE);
  const tensors = await readSafetensors(file);
  const renamed = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  for (const [name, t] of tensors) {
    // PEFT also writes names with the adapter name ("….lora_A.default.weight") in some versions.
    const clean = name.replace(/^base_model\.model\./, '').replace(/\.lora_([AB])\.[^.]+\.weight$/, '.lora_$1.weight');
    renamed.set(clean, t);
  }
  const loraNames = model.params.names().filter(isLoraParam);
  for (const n of loraNames) if (!renamed.has(n)) throw new Error(`${file}: missing tensor for ${n}`);
  model.params.loadHost(renamed, { strict: false, source: file });
  return config;
}

/** Folds every LoRA update into its base weight (outputs unchanged; the adapter can then be dropped). */
export function mergeLora(model: CausalLM): number {
  let merged = 0;
  for (const lin of model.linears().values()) {
    if (lin.hasLora) {
      lin.mergeLora();
      merged++;
    }
  }
  return merged;
}
