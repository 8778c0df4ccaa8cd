/**
 * GPT-2 (Radford et al., 2019, "Language Models are Unsupervised Multitask Learners"): learned
 * absolute positions, pre-norm blocks of LayerNorm → causal multi-head attention → residual,
 * LayerNorm → GELU MLP → residual, a final LayerNorm and an LM head tied to the token embedding.
 *
 * Parameter names are HF's: `transformer.{wte,wpe}`, `transformer.h.N.{ln_1, attn.c_attn, attn.c_proj,
 * ln_2, mlp.c_fc, mlp.c_proj}`, `transformer.ln_f`. The projections are `Conv1D` layers whose
 * weights are stored `[in, out]` on disk too; `c_attn` packs q|k|v along its output axis.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ParamStore,
  Linear,
  LayerNorm,
  Embedding,
  Mlp,
  attention,
  splitHeads,
  mergeHeads,
  dropout,
  trainingBlock,
  type HostTensor,
  type Init,
} from '@dalm/core';
import { KVCache } from './kv-cache';
import {
  checkInputIds,
  decoderBias,
  decoderPositions,
  eosList,
  selectOutputStates,
  type CausalLM,
  type CausalLMForwardOptions,
  type CausalLMOutput,
  type SpecialTokens,
} from './causal-lm';

/** GPT-2 hyper-parameters (HF names). */
export interface Gpt2Config {
  /** Rows of the token-embedding table and width of the logits. */
  vocab_size: number;
  /** Rows of the learned position table: the longest sequence the model can read. */
  n_positions: number;
  /** Width of every hidden state. */
  n_embd: number;
  /** Number of blocks. */
  n_layer: number;
  /** Attention heads per block; must divide `n_embd`. */
  n_head: number;
  /** Width of the MLP, or null for 4 × n_embd. */
  n_inner: number | null;
  /** MLP activation: `gelu_new` (tanh approximation, GPT-2's), `gelu`, `gelu_pytorch_tanh`, `relu` or `silu`. */
  activation_function: string;
  /** Dropout after each sub-layer while training. */
  resid_pdrop: number;
  /** Dropout on the summed embeddings while training. */
  embd_pdrop: number;
  /** Dropout on attention probabilities while training. */
  attn_pdrop: number;
  /** Epsilon inside every LayerNorm. */
  layer_norm_epsilon: number;
  /** Standard deviation of the normal initialisation of a from-scratch model. */
  initializer_range: number;
  /** Scale attention scores by 1/√head_dim. */
  scale_attn_weights: boolean;
  /** Also divide attention scores by (layer index + 1). */
  scale_attn_by_inverse_layer_idx: boolean;
  /** Id of the beginning-of-sequence token, or null. */
  bos_token_id: number | null;
  /** Id(s) that end generation, or null. */
  eos_token_id: number | number[] | null;
  /** Id used to pad batches, or null (then generation pads with eos). */
  pad_token_id: number | null;
}

/** `transformers`' `GPT2Config()` defaults (GPT-2 small). */
export const DEFAULT_GPT2_CONFIG: Readonly<Gpt2Config> = Object.freeze({
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_inner: null,
  activation_function: 'gelu_new',
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  scale_attn_weights: true,
  scale_attn_by_inverse_layer_idx: false,
  bos_token_id: 50256,
  eos_token_id: 50256,
  pad_token_id: null,
}) as Readonly<Gpt2Config>;

const ACTIVATIONS = ['gelu_new', 'gelu', 'gelu_pytorch_tanh', 'relu', 'silu', 'swish'];

/**
 * Fills missing fields from DEFAULT_GPT2_CONFIG and checks every field; throws an error naming the
 * bad field and the valid values. Unknown keys are dropped; `source` prefixes errors.
 *
 * @example
 * const config = validateGpt2Config({ vocab_size: 8000, n_embd: 256, n_layer: 4, n_head: 4 });
 */
export function validateGpt2Config(
  raw: Partial<Gpt2Config> | Record<string, unknown>,
  source = 'Gpt2Config',
): Gpt2Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${source}: expected a JSON object with GPT-2 settings`);
  const r = raw as Record<string, unknown>;
  const c = { ...DEFAULT_GPT2_CONFIG } as Gpt2Config;
  const nullable = new Set(['n_inner', 'bos_token_id', 'eos_token_id', 'pad_token_id']);
  for (const key of Object.keys(DEFAULT_GPT2_CONFIG) as (keyof Gpt2Config)[]) {
    if (r[key] === undefined) continue;
    if (r[key] === null && !nullable.has(key)) continue;
    (c as unknown as Record<string, unknown>)[key] = r[key];
  }
  for (const key of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new Error(`${source}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (c.n_inner !== null && !(Number.isInteger(c.n_inner) && c.n_inner >= 1)) {
    throw new Error(`${source}: "n_inner" must be null or a positive integer, got ${JSON.stringify(c.n_inner)}`);
  }
  if (c.n_embd % c.n_head !== 0)
    throw new Error(`${source}: "n_embd" (${c.n_embd}) must be divisible by "n_head" (${c.n_head})`);
  if (typeof c.activation_function !== 'string' || !ACTIVATIONS.includes(c.activation_function)) {
    throw new Error(
      `${source}: "activation_function" must be one of ${ACTIVATIONS.join(', ')}; got ${JSON.stringify(c.activation_function)}`,
    );
  }
  for (const key of ['resid_pdrop', 'embd_pdrop', 'attn_pdrop'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !(v >= 0 && v < 1))
      throw new Error(`${source}: "${key}" must be a number in [0, 1), got ${JSON.stringify(v)}`);
  }
  for (const key of ['layer_norm_epsilon', 'initializer_range'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !(v > 0))
      throw new Error(`${source}: "${key}" must be a positive number, got ${JSON.stringify(v)}`);
  }
  for (const key of ['scale_attn_weights', 'scale_attn_by_inverse_layer_idx'] as const) {
    if (typeof c[key] !== 'boolean')
      throw new Error(`${source}: "${key}" must be true or false, got ${JSON.stringify(c[key])}`);
  }
  const isId = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < c.vocab_size;
  for (const key of ['bos_token_id', 'pad_token_id'] as const) {
    if (c[key] !== null && !isId(c[key]))
      throw new Error(
        `${source}: "${key}" must be null or an integer in [0, ${c.vocab_size}), got ${JSON.stringify(c[key])}`,
      );
  }
  const eos = c.eos_token_id;
  if (eos !== null && !(Array.isArray(eos) ? eos.every(isId) : isId(eos))) {
    throw new Error(
      `${source}: "eos_token_id" must be null, or an integer or list of integers in [0, ${c.vocab_size}), got ${JSON.stringify(eos)}`,
    );
  }
  if (r.add_cross_attention === true) throw new Error(`${source}: "add_cross_attention": true is not supported`);
  return c;
}

/** The `config.json` object HF writes for a `GPT2LMHeadModel` with this configuration. */
export function gpt2ConfigToJson(config: Gpt2Config): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    ...config,
    n_ctx: config.n_positions,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}

/** Causal self-attention with packed q|k|v (`transformer.h.N.attn`). */
class Gpt2Attention {
  readonly cAttn: Linear;
  readonly cProj: Linear;
  private readonly heads: number;
  private readonly scale: number;

  constructor(
    store: ParamStore,
    prefix: string,
    private readonly c: Gpt2Config,
    layer: number,
    init: Init,
  ) {
    this.heads = c.n_head;
    this.cAttn = new Linear(store, `${prefix}.c_attn`, c.n_embd, 3 * c.n_embd, { conv1d: true, init });
    this.cProj = new Linear(store, `${prefix}.c_proj`, c.n_embd, c.n_embd, { conv1d: true, init });
    let scale = c.scale_attn_weights ? 1 / Math.sqrt(c.n_embd / c.n_head) : 1;
    if (c.scale_attn_by_inverse_layer_idx) scale /= layer + 1;
    this.scale = scale;
  }

  /** x: [batch, seq, embd] -> [batch, seq, embd]. */
  apply(x: tf.Tensor, bias: tf.Tensor, layer: number, cache: KVCache | undefined, training: boolean): tf.Tensor {
    return tf.tidy(() => {
      const [qx, kx, vx] = tf.split(this.cAttn.apply(x, training), 3, -1); // 3 × [b, seq, embd]
      const q = splitHeads(qx, this.heads); // [b, heads, seq, dim]
      let k = splitHeads(kx, this.heads);
      let v = splitHeads(vx, this.heads);
      if (cache) ({ k, v } = cache.update(layer, k, v)); // [b, heads, past + seq, dim]
      const out = attention(q, k, v, { bias, scale: this.scale, dropout: this.c.attn_pdrop, training }); // [b, heads, seq, dim]
      return dropout(this.cProj.apply(mergeHeads(out), training), this.c.resid_pdrop, training); // [b, seq, embd]
    });
  }
}

/** One pre-norm block (`transformer.h.N`). */
class Gpt2Block {
  readonly ln1: LayerNorm;
  readonly attn: Gpt2Attention;
  readonly ln2: LayerNorm;
  readonly mlp: Mlp;

  constructor(
    store: ParamStore,
    prefix: string,
    private readonly c: Gpt2Config,
    layer: number,
    init: Init,
  ) {
    this.ln1 = new LayerNorm(store, `${prefix}.ln_1`, c.n_embd, c.layer_norm_epsilon);
    this.attn = new Gpt2Attention(store, `${prefix}.attn`, c, layer, init);
    this.ln2 = new LayerNorm(store, `${prefix}.ln_2`, c.n_embd, c.layer_norm_epsilon);
    const inner = c.n_inner ?? 4 * c.n_embd;
    this.mlp = new Mlp(
      store,
      { up: `${prefix}.mlp.c_fc`, down: `${prefix}.mlp.c_proj` },
      c.n_embd,
      inner,
      c.activation_function,
      {
        conv1d: true,
        init,
      },
    );
  }

  apply(x: tf.Tensor, bias: tf.Tensor, layer: number, cache: KVCache | undefined, training: boolean): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.apply(this.ln1.apply(x), bias, layer, cache, training)); // [b, seq, embd]
      const m = dropout(this.mlp.apply(this.ln2.apply(h), training), this.c.resid_pdrop, training);
      return tf.add(h, m); // [b, seq, embd]
    });
  }
}

/**
 * `GPT2LMHeadModel` with the head tied to `transformer.wte`. Construction initialises weights as HF
 * does (normal(0, initializer_range), zero biases, unit LayerNorms); load real ones with `loadCausalLM(dir)`.
 *
 * @example
 * const model = new Gpt2LMHeadModel(validateGpt2Config({ vocab_size: 8000, n_embd: 128, n_layer: 2, n_head: 4 }));
 * const { logits } = model.forward(tf.tensor2d([[5, 9]], undefined, 'int32')); // [1, 2, 8000]
 */
export class Gpt2LMHeadModel implements CausalLM {
  readonly modelType = 'gpt2' as const;
  readonly config: Gpt2Config;
  readonly params: ParamStore;
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly blocks: Gpt2Block[];
  readonly lnF: LayerNorm;

  constructor(config: Gpt2Config, seed = 0) {
    const c = validateGpt2Config(config);
    this.config = c;
    this.params = new ParamStore(seed);
    const init: Init = { kind: 'normal', std: c.initializer_range };
    this.wte = new Embedding(this.params, 'transformer.wte', c.vocab_size, c.n_embd, init);
    this.wpe = new Embedding(this.params, 'transformer.wpe', c.n_positions, c.n_embd, init);
    this.blocks = [];
    for (let i = 0; i < c.n_layer; i++) this.blocks.push(new Gpt2Block(this.params, `transformer.h.${i}`, c, i, init));
    this.lnF = new LayerNorm(this.params, 'transformer.ln_f', c.n_embd, c.layer_norm_epsilon);
  }

  get vocabSize(): number {
    return this.config.vocab_size;
  }

  get numLayers(): number {
    return this.config.n_layer;
  }

  get maxPositions(): number {
    return this.config.n_positions;
  }

  get specialTokens(): SpecialTokens {
    return { bos: this.config.bos_token_id, eos: eosList(this.config.eos_token_id), pad: this.config.pad_token_id };
  }

  forward(inputIds: tf.Tensor, opts: CausalLMForwardOptions = {}): CausalLMOutput {
    const [batch, seq] = checkInputIds(inputIds);
    const cache = opts.cache;
    if (cache && cache.numLayers !== this.numLayers)
      throw new Error(`KV cache has ${cache.numLayers} layers, the model has ${this.numLayers}`);
    const past = cache?.length ?? 0;
    if (!opts.attentionMask && !opts.positionIds && past + seq > this.config.n_positions) {
      throw new Error(
        `GPT-2 reads at most n_positions=${this.config.n_positions} tokens; got ${past} cached + ${seq} new`,
      );
    }
    const training = opts.training ?? false;
    const logits = tf.tidy(() => {
      const positions = decoderPositions(batch, seq, past, opts); // [b, seq]
      const bias = decoderBias(seq, past, opts.attentionMask); // [b|1, 1, seq, past + seq]
      let h = tf.add(this.wte.apply(inputIds), this.wpe.apply(positions)); // [b, seq, embd]
      h = dropout(h, this.config.embd_pdrop, training);
      this.blocks.forEach((block, i) => {
        // While training (no cache): seeded dropout, and checkpointed with setGradientCheckpointing(true).
        h =
          training && !cache
            ? trainingBlock(
                (x, b) => block.apply(x, b!, i, undefined, true),
                [h, bias],
                () => this.params.trainableUnder(`transformer.h.${i}`),
              )
            : block.apply(h, bias, i, cache, training);
      });
      h = this.lnF.apply(h);
      h = selectOutputStates(h, opts); // [b, seq|1, hidden] or [1, n, hidden]
      return this.wte.project(h); // [b, seq|1, vocab]
    });
    return { logits, cache };
  }

  createCache(): KVCache {
    return new KVCache(this.numLayers);
  }

  linears(): Map<string, Linear> {
    const out = new Map<string, Linear>();
    for (const b of this.blocks)
      for (const lin of [b.attn.cAttn, b.attn.cProj, b.mlp.up, b.mlp.down]) out.set(lin.name, lin);
    return out;
  }

  configJson(): Record<string, unknown> {
    return gpt2ConfigToJson(this.config);
  }

  isSavedParam(name: string): boolean {
    return !name.includes('.lora_');
  }

  dispose(): void {
    this.params.dispose();
  }
}

/**
 * Maps tensors read from an HF GPT-2 checkpoint onto this implementation's names: adds the
 * `transformer.` prefix that checkpoints saved from `GPT2Model` (like the original `gpt2`) lack, and
 * drops the tied `lm_head.weight` and the `attn.bias` / `attn.masked_bias` mask buffers of old checkpoints.
 */
export function gpt2StateDict(raw: Map<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of raw) {
    const target = gpt2ParamName(name);
    if (target !== null) out.set(target, t);
  }
  return out;
}

/** The parameter an HF GPT-2 checkpoint tensor fills (prefixed `transformer.`), or null for the tied head and mask buffers. */
export function gpt2ParamName(name: string): string | null {
  if (name === 'lm_head.weight') return null;
  if (/\.attn\.(bias|masked_bias)$/.test(name)) return null;
  return name.startsWith('transformer.') ? name : `transformer.${name}`;
}
