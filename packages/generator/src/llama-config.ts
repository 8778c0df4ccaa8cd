/**
 * Configuration of a Llama-family decoder (Llama, Qwen2), with the Hugging Face `config.json` key
 * names so a config round-trips through `LlamaConfig` / `Qwen2Config` of `transformers` unchanged.
 */

/**
 * RoPE frequency scaling (HF `rope_scaling`), applied to inv_freq as `transformers`'
 * `ROPE_INIT_FUNCTIONS` do: `linear` divides every frequency by `factor` (position interpolation);
 * `llama3` divides the low frequencies (wavelength > original_max_position_embeddings /
 * low_freq_factor) by `factor`, keeps the high ones, and blends linearly in between.
 */
export type RopeScaling =
  | { rope_type: 'linear'; factor: number }
  | {
      rope_type: 'llama3';
      factor: number;
      low_freq_factor: number;
      high_freq_factor: number;
      original_max_position_embeddings: number;
    };

export const ROPE_SCALING_TYPES = ['linear', 'llama3'] as const;

/** Architectures this config describes (HF `model_type`). */
export type DecoderModelType = 'llama' | 'qwen2';

export const DECODER_MODEL_TYPES: readonly DecoderModelType[] = ['llama', 'qwen2'];

/** Llama / Qwen2 hyper-parameters (HF names). */
export interface LlamaConfig {
  /** `llama` or `qwen2` (Qwen2 always has q/k/v biases). */
  model_type: DecoderModelType;
  /** Rows of the token-embedding table and width of the logits. */
  vocab_size: number;
  /** Width of every hidden state. */
  hidden_size: number;
  /** Width of the gated feed-forward block. */
  intermediate_size: number;
  /** Number of decoder layers. */
  num_hidden_layers: number;
  /** Query heads per layer; must divide `hidden_size`. */
  num_attention_heads: number;
  /** Key/value heads (grouped-query attention); must divide `num_attention_heads`. */
  num_key_value_heads: number;
  /** Gate activation of the MLP: `silu` (SwiGLU), `gelu`, `gelu_new`, `gelu_pytorch_tanh` or `relu`. */
  hidden_act: string;
  /** Longest sequence the model was trained for (RoPE itself has no hard limit). */
  max_position_embeddings: number;
  /** Epsilon inside every RMSNorm. */
  rms_norm_eps: number;
  /** RoPE base θ: inv_freq_i = θ^(−2i/head_dim). */
  rope_theta: number;
  /** RoPE frequency scaling, or null for plain RoPE. */
  rope_scaling: RopeScaling | null;
  /** Whether `lm_head` shares `model.embed_tokens.weight` (then it is absent from the weights file). */
  tie_word_embeddings: boolean;
  /** Whether q/k/v/o projections have biases (Llama: optional, default false; Qwen2: q/k/v always, o never). */
  attention_bias: boolean;
  /** Dropout on attention probabilities while training. */
  attention_dropout: number;
  /** Standard deviation of the normal initialisation of a from-scratch model. */
  initializer_range: number;
  /** Id of the beginning-of-sequence token, or null. */
  bos_token_id: number | null;
  /** Id(s) that end generation, or null. */
  eos_token_id: number | number[] | null;
  /** Id used to pad batches, or null (then generation pads with eos). */
  pad_token_id: number | null;
}

/** `transformers`' `LlamaConfig()` defaults (Llama-2-7B sizes). */
export const DEFAULT_LLAMA_CONFIG: Readonly<LlamaConfig> = Object.freeze({
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  hidden_act: 'silu',
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  rope_scaling: null,
  tie_word_embeddings: false,
  attention_bias: false,
  attention_dropout: 0,
  initializer_range: 0.02,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: null,
}) as Readonly<LlamaConfig>;

/**
 * A small decoder for training from scratch on a domain corpus (4 layers × 256 hidden, 4 query /
 * 2 kv heads, tied embeddings; ~3.2M parameters plus 256 per vocabulary entry). Set `vocab_size`
 * and the special-token ids from the trained tokenizer.
 */
export const SMALL_LLAMA_CONFIG: Readonly<Partial<LlamaConfig>> = Object.freeze({
  model_type: 'llama',
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  tie_word_embeddings: true,
}) as Readonly<Partial<LlamaConfig>>;

const ACTIVATIONS = ['silu', 'swish', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu'];

function isTokenId(v: unknown, vocab: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < vocab;
}

/**
 * Fills missing fields from DEFAULT_LLAMA_CONFIG and checks every field; throws an error naming
 * the bad field and the valid values. `num_key_value_heads` defaults to `num_attention_heads`;
 * Qwen2 forces `attention_bias: true`. `rope_scaling` may be null, `default`, `linear` or `llama3`
 * (the older key `type` is read as `rope_type`). Settings this implementation does not support
 * (other `rope_scaling` types, Qwen2's `use_sliding_window`, a `head_dim` other than hidden/heads)
 * are rejected by name, not ignored.
 * Unknown keys (e.g. `architectures`) are dropped. `source` (e.g. a file path) prefixes errors.
 *
 * @example
 * const config = validateLlamaConfig({ ...SMALL_LLAMA_CONFIG, vocab_size: 8000 });
 */
export function validateLlamaConfig(
  raw: Partial<LlamaConfig> | Record<string, unknown>,
  source = 'LlamaConfig',
): LlamaConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object with decoder settings`);
  }
  const r = raw as Record<string, unknown>;
  const c = { ...DEFAULT_LLAMA_CONFIG } as LlamaConfig;
  const nullable = new Set(['bos_token_id', 'eos_token_id', 'pad_token_id', 'rope_scaling']);
  for (const key of Object.keys(DEFAULT_LLAMA_CONFIG) as (keyof LlamaConfig)[]) {
    if (r[key] === undefined) continue;
    if (r[key] === null && !nullable.has(key)) continue;
    (c as unknown as Record<string, unknown>)[key] = r[key];
  }
  if (r.num_key_value_heads === undefined || r.num_key_value_heads === null)
    c.num_key_value_heads = c.num_attention_heads;

  if (!DECODER_MODEL_TYPES.includes(c.model_type)) {
    throw new Error(
      `${source}: "model_type" must be one of ${DECODER_MODEL_TYPES.join(', ')}; got ${JSON.stringify(c.model_type)}`,
    );
  }
  if (c.model_type === 'qwen2') c.attention_bias = true;

  const positiveInt = [
    'vocab_size',
    'hidden_size',
    'intermediate_size',
    'num_hidden_layers',
    'num_attention_heads',
    'num_key_value_heads',
    'max_position_embeddings',
  ] as const;
  for (const key of positiveInt) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new Error(`${source}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new Error(
      `${source}: "hidden_size" (${c.hidden_size}) must be divisible by "num_attention_heads" (${c.num_attention_heads})`,
    );
  }
  if ((c.hidden_size / c.num_attention_heads) % 2 !== 0) {
    throw new Error(
      `${source}: the head size hidden_size/num_attention_heads (${c.hidden_size / c.num_attention_heads}) must be even for RoPE`,
    );
  }
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new Error(
      `${source}: "num_attention_heads" (${c.num_attention_heads}) must be a multiple of "num_key_value_heads" (${c.num_key_value_heads})`,
    );
  }
  if (r.head_dim !== undefined && r.head_dim !== null && r.head_dim !== c.hidden_size / c.num_attention_heads) {
    throw new Error(
      `${source}: "head_dim" ${JSON.stringify(r.head_dim)} is not supported; only hidden_size/num_attention_heads (${c.hidden_size / c.num_attention_heads})`,
    );
  }
  if (typeof c.hidden_act !== 'string' || !ACTIVATIONS.includes(c.hidden_act)) {
    throw new Error(
      `${source}: "hidden_act" must be one of ${ACTIVATIONS.join(', ')}; got ${JSON.stringify(c.hidden_act)}`,
    );
  }
  for (const key of ['rms_norm_eps', 'rope_theta', 'initializer_range'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !(v > 0))
      throw new Error(`${source}: "${key}" must be a positive number, got ${JSON.stringify(v)}`);
  }
  if (typeof c.attention_dropout !== 'number' || !(c.attention_dropout >= 0 && c.attention_dropout < 1)) {
    throw new Error(
      `${source}: "attention_dropout" must be a number in [0, 1), got ${JSON.stringify(c.attention_dropout)}`,
    );
  }
  for (const key of ['tie_word_embeddings', 'attention_bias'] as const) {
    if (typeof c[key] !== 'boolean')
      throw new Error(`${source}: "${key}" must be true or false, got ${JSON.stringify(c[key])}`);
  }
  for (const key of ['bos_token_id', 'pad_token_id'] as const) {
    const v = c[key];
    if (v !== null && !isTokenId(v, c.vocab_size)) {
      throw new Error(
        `${source}: "${key}" must be null or an integer in [0, ${c.vocab_size}), got ${JSON.stringify(v)}`,
      );
    }
  }
  const eos = c.eos_token_id;
  if (
    eos !== null &&
    !(Array.isArray(eos) ? eos.every((e) => isTokenId(e, c.vocab_size)) : isTokenId(eos, c.vocab_size))
  ) {
    throw new Error(
      `${source}: "eos_token_id" must be null, or an integer or list of integers in [0, ${c.vocab_size}), got ${JSON.stringify(eos)}`,
    );
  }
  c.rope_scaling = validateRopeScaling(r.rope_scaling, source);
  if (r.rope_parameters !== undefined && r.rope_parameters !== null) {
    // transformers >= 5 writes `rope_parameters` {rope_type, rope_theta, factor, ...} instead of rope_theta + rope_scaling.
    const rp = r.rope_parameters as Record<string, unknown>;
    if (typeof rp !== 'object' || Array.isArray(rp)) throw new Error(`${source}: "rope_parameters" must be an object`);
    if (rp.rope_theta !== undefined) {
      if (typeof rp.rope_theta !== 'number' || !(rp.rope_theta > 0))
        throw new Error(`${source}: "rope_parameters.rope_theta" must be a positive number`);
      c.rope_theta = rp.rope_theta;
    }
    c.rope_scaling = validateRopeScaling(
      rp.rope_type === undefined && rp.type === undefined ? { ...rp, rope_type: 'default' } : rp,
      `${source}: rope_parameters`,
    );
  }
  if (r.mlp_bias === true) throw new Error(`${source}: "mlp_bias": true is not supported (only MLPs without biases)`);
  if (r.use_sliding_window === true) {
    throw new Error(`${source}: "use_sliding_window": true is not supported (only full attention)`);
  }
  return c;
}

/** Checks an HF `rope_scaling` value; null / `{rope_type: "default"}` mean no scaling. */
export function validateRopeScaling(raw: unknown, source = 'LlamaConfig'): RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${source}: "rope_scaling" must be null or an object, got ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  const type = r.rope_type ?? r.type;
  if (type === 'default') return null;
  if (type !== 'linear' && type !== 'llama3') {
    throw new Error(
      `${source}: "rope_scaling" type ${JSON.stringify(type)} is not supported (supported: default, ${ROPE_SCALING_TYPES.join(', ')})`,
    );
  }
  const num = (key: string, min: number): number => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v >= min)) {
      throw new Error(
        `${source}: "rope_scaling.${key}" must be a number >= ${min} for rope_type ${type}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const factor = num('factor', 1);
  if (type === 'linear') return { rope_type: 'linear', factor };
  const low = num('low_freq_factor', 0);
  const high = num('high_freq_factor', 0);
  if (!(high > low))
    throw new Error(
      `${source}: "rope_scaling.high_freq_factor" (${high}) must be greater than low_freq_factor (${low})`,
    );
  const original = num('original_max_position_embeddings', 1);
  return {
    rope_type: 'llama3',
    factor,
    low_freq_factor: low,
    high_freq_factor: high,
    original_max_position_embeddings: original,
  };
}

/** The `config.json` object HF writes for a `LlamaForCausalLM` / `Qwen2ForCausalLM` with this configuration. */
export function llamaConfigToJson(config: LlamaConfig): Record<string, unknown> {
  if (config.model_type === 'qwen2') {
    const { attention_bias: _bias, ...rest } = config;
    return {
      architectures: ['Qwen2ForCausalLM'],
      ...rest,
      use_sliding_window: false,
      sliding_window: config.max_position_embeddings,
      max_window_layers: config.num_hidden_layers,
      torch_dtype: 'float32',
    };
  }
  return { architectures: ['LlamaForCausalLM'], ...config, pretraining_tp: 1, torch_dtype: 'float32' };
}
