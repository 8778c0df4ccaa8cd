/**
 * Configuration of a BERT encoder, with the Hugging Face `config.json` key names so a config
 * round-trips through `BertConfig` of `transformers` unchanged.
 */

/** BERT hyper-parameters (HF names). */
export interface BertConfig {
  /** Number of rows in the word-embedding table (tokenizer vocabulary size). */
  vocab_size: number;
  /** Width of every hidden state. */
  hidden_size: number;
  /** Number of transformer layers. */
  num_hidden_layers: number;
  /** Attention heads per layer; must divide `hidden_size`. */
  num_attention_heads: number;
  /** Width of the feed-forward block. */
  intermediate_size: number;
  /** Feed-forward activation: `gelu` (erf), `gelu_new`, `gelu_pytorch_tanh`, `relu` or `silu`. */
  hidden_act: string;
  /** Number of learned absolute positions (longest input, special tokens included). */
  max_position_embeddings: number;
  /** Number of segment (token type) embeddings. */
  type_vocab_size: number;
  /** Epsilon inside every LayerNorm. */
  layer_norm_eps: number;
  /** Id of the padding token. */
  pad_token_id: number;
  /** Dropout on embeddings and sub-layer outputs while training. */
  hidden_dropout_prob: number;
  /** Dropout on attention probabilities while training. */
  attention_probs_dropout_prob: number;
  /** Standard deviation of the normal initialisation of a from-scratch model. */
  initializer_range: number;
  /** Only `absolute` (learned positions) is supported. */
  position_embedding_type: 'absolute';
}

/** bert-base-uncased's configuration. */
export const DEFAULT_BERT_CONFIG: Readonly<BertConfig> = Object.freeze({
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.02,
  position_embedding_type: 'absolute',
});

/**
 * A small encoder for training from scratch on a domain corpus (4 layers × 256 hidden × 4 heads,
 * ~5.4M parameters with an 8k vocabulary). Set `vocab_size` to the trained tokenizer's size.
 */
export const SMALL_BERT_CONFIG: Readonly<Partial<BertConfig>> = Object.freeze({
  hidden_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 1024,
  max_position_embeddings: 512,
});

const ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish'];

/**
 * Fills missing fields from DEFAULT_BERT_CONFIG and checks every field; throws an error naming
 * the bad field and the valid values. Unknown keys (e.g. `architectures`) are dropped.
 * `source` (e.g. a file path) prefixes error messages.
 *
 * @example
 * const config = validateBertConfig({ ...SMALL_BERT_CONFIG, vocab_size: 8000 });
 */
export function validateBertConfig(
  raw: Partial<BertConfig> | Record<string, unknown>,
  source = 'BertConfig',
): BertConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object with BERT settings`);
  }
  const r = raw as Record<string, unknown>;
  const c = { ...DEFAULT_BERT_CONFIG } as BertConfig;
  const take = <K extends keyof BertConfig>(key: K) => {
    if (r[key] !== undefined && r[key] !== null) (c as unknown as Record<string, unknown>)[key] = r[key];
  };
  (Object.keys(DEFAULT_BERT_CONFIG) as (keyof BertConfig)[]).forEach(take);

  const positiveInt = [
    'vocab_size',
    'hidden_size',
    'num_hidden_layers',
    'num_attention_heads',
    'intermediate_size',
    'max_position_embeddings',
    'type_vocab_size',
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
  if (typeof c.hidden_act !== 'string' || !ACTIVATIONS.includes(c.hidden_act)) {
    throw new Error(
      `${source}: "hidden_act" must be one of ${ACTIVATIONS.join(', ')}; got ${JSON.stringify(c.hidden_act)}`,
    );
  }
  if (typeof c.layer_norm_eps !== 'number' || !(c.layer_norm_eps > 0)) {
    throw new Error(`${source}: "layer_norm_eps" must be a positive number, got ${JSON.stringify(c.layer_norm_eps)}`);
  }
  if (!Number.isInteger(c.pad_token_id) || c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size) {
    throw new Error(
      `${source}: "pad_token_id" must be an integer in [0, ${c.vocab_size}), got ${JSON.stringify(c.pad_token_id)}`,
    );
  }
  for (const key of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
      throw new Error(`${source}: "${key}" must be a number in [0, 1), got ${JSON.stringify(v)}`);
    }
  }
  if (typeof c.initializer_range !== 'number' || !(c.initializer_range > 0)) {
    throw new Error(
      `${source}: "initializer_range" must be a positive number, got ${JSON.stringify(c.initializer_range)}`,
    );
  }
  if (c.position_embedding_type !== 'absolute') {
    throw new Error(
      `${source}: "position_embedding_type" must be "absolute" (the only one supported), got ${JSON.stringify(c.position_embedding_type)}`,
    );
  }
  return c;
}

/** The `config.json` object HF writes for a `BertModel` with this configuration. */
export function bertConfigToJson(config: BertConfig): Record<string, unknown> {
  return { architectures: ['BertModel'], model_type: 'bert', ...config, torch_dtype: 'float32' };
}
