/**
 * Llama-family decoder (Touvron et al., 2023, "Llama 2"; Qwen2 is the same network with q/k/v
 * biases): pre-norm blocks of RMSNorm → grouped-query attention with rotary positions → residual,
 * RMSNorm → SwiGLU MLP → residual; a final RMSNorm and an LM head (or the tied embedding).
 *
 * Parameter names are HF's: `model.embed_tokens`, `model.layers.N.{input_layernorm,
 * self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj}`, `model.norm`,
 * `lm_head` (absent when tied).
 */
import * as tf from '@tensorflow/tfjs';
import {
  ParamStore,
  Linear,
  RMSNorm,
  Embedding,
  GatedMlp,
  attention,
  splitHeads,
  mergeHeads,
  applyRotary,
  trainingBlock,
  type HostTensor,
  type Init,
  type RotaryTables,
} from '@dalm/core';
import { validateLlamaConfig, llamaConfigToJson, type LlamaConfig } from './llama-config';
import { KVCache } from './kv-cache';
import { ropeInvFreq, ropeTables } from './rope';
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

/** Self-attention with RoPE and grouped-query heads (`model.layers.N.self_attn`). */
class LlamaAttention {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  private readonly heads: number;
  private readonly kvHeads: number;
  private readonly dropout: number;

  constructor(store: ParamStore, prefix: string, c: LlamaConfig, init: Init) {
    this.heads = c.num_attention_heads;
    this.kvHeads = c.num_key_value_heads;
    this.dropout = c.attention_dropout;
    const headDim = c.hidden_size / c.num_attention_heads;
    const qkvBias = c.attention_bias;
    const oBias = c.model_type === 'llama' && c.attention_bias; // Qwen2's o_proj never has a bias
    this.q = new Linear(store, `${prefix}.q_proj`, c.hidden_size, this.heads * headDim, { bias: qkvBias, init });
    this.k = new Linear(store, `${prefix}.k_proj`, c.hidden_size, this.kvHeads * headDim, { bias: qkvBias, init });
    this.v = new Linear(store, `${prefix}.v_proj`, c.hidden_size, this.kvHeads * headDim, { bias: qkvBias, init });
    this.o = new Linear(store, `${prefix}.o_proj`, this.heads * headDim, c.hidden_size, { bias: oBias, init });
  }

  /** x: [batch, seq, hidden] -> [batch, seq, hidden]. */
  apply(
    x: tf.Tensor,
    rot: RotaryTables,
    bias: tf.Tensor,
    layer: number,
    cache: KVCache | undefined,
    training: boolean,
  ): tf.Tensor {
    return tf.tidy(() => {
      const q = applyRotary(splitHeads(this.q.apply(x, training), this.heads), rot); // [b, heads, seq, dim]
      let k = applyRotary(splitHeads(this.k.apply(x, training), this.kvHeads), rot); // [b, kvHeads, seq, dim]
      let v = splitHeads(this.v.apply(x, training), this.kvHeads); // [b, kvHeads, seq, dim]
      if (cache) ({ k, v } = cache.update(layer, k, v)); // [b, kvHeads, past + seq, dim]
      const out = attention(q, k, v, { bias, dropout: this.dropout, training }); // [b, heads, seq, dim]
      return this.o.apply(mergeHeads(out), training); // [b, seq, hidden]
    });
  }
}

/** One pre-norm decoder block (`model.layers.N`). */
class LlamaBlock {
  readonly inputNorm: RMSNorm;
  readonly attn: LlamaAttention;
  readonly postNorm: RMSNorm;
  readonly mlp: GatedMlp;

  constructor(store: ParamStore, prefix: string, c: LlamaConfig, init: Init) {
    this.inputNorm = new RMSNorm(store, `${prefix}.input_layernorm`, c.hidden_size, c.rms_norm_eps);
    this.attn = new LlamaAttention(store, `${prefix}.self_attn`, c, init);
    this.postNorm = new RMSNorm(store, `${prefix}.post_attention_layernorm`, c.hidden_size, c.rms_norm_eps);
    this.mlp = new GatedMlp(store, `${prefix}.mlp`, c.hidden_size, c.intermediate_size, c.hidden_act, { init });
  }

  apply(
    x: tf.Tensor,
    rot: RotaryTables,
    bias: tf.Tensor,
    layer: number,
    cache: KVCache | undefined,
    training: boolean,
  ): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.apply(this.inputNorm.apply(x), rot, bias, layer, cache, training)); // [b, seq, hidden]
      return tf.add(h, this.mlp.apply(this.postNorm.apply(h), training)); // [b, seq, hidden]
    });
  }
}

/**
 * `LlamaForCausalLM` / `Qwen2ForCausalLM`. Construction initialises every weight as HF does
 * (normal(0, initializer_range), zero biases, unit norms, zero padding row); load real weights with
 * `loadCausalLM(dir)` or `model.params.loadHost(llamaStateDict(raw, config))`.
 *
 * @example
 * const model = new LlamaForCausalLM(validateLlamaConfig({ ...SMALL_LLAMA_CONFIG, vocab_size: 8000 }), 42);
 * const { logits } = model.forward(tf.tensor2d([[1, 5, 9]], undefined, 'int32')); // [1, 3, 8000]
 */
export class LlamaForCausalLM implements CausalLM {
  readonly config: LlamaConfig;
  readonly params: ParamStore;
  readonly embed: Embedding;
  readonly layers: LlamaBlock[];
  readonly norm: RMSNorm;
  /** Null when the head is tied to `embed`. */
  readonly lmHead: Linear | null;
  readonly maxPositions = null;
  /** Rotary inverse frequencies (with `rope_scaling` applied): [headDim / 2]. */
  private readonly invFreq: Float32Array;

  constructor(config: LlamaConfig, seed = 0) {
    const c = validateLlamaConfig(config);
    this.config = c;
    this.invFreq = ropeInvFreq(c.hidden_size / c.num_attention_heads, c.rope_theta, c.rope_scaling);
    this.params = new ParamStore(seed);
    const init: Init = { kind: 'normal', std: c.initializer_range };
    this.embed = new Embedding(this.params, 'model.embed_tokens', c.vocab_size, c.hidden_size, init);
    if (c.pad_token_id !== null) zeroRow(this.embed.weight, c.pad_token_id);
    this.layers = [];
    for (let i = 0; i < c.num_hidden_layers; i++)
      this.layers.push(new LlamaBlock(this.params, `model.layers.${i}`, c, init));
    this.norm = new RMSNorm(this.params, 'model.norm', c.hidden_size, c.rms_norm_eps);
    this.lmHead = c.tie_word_embeddings
      ? null
      : new Linear(this.params, 'lm_head', c.hidden_size, c.vocab_size, { bias: false, init });
  }

  get modelType(): 'llama' | 'qwen2' {
    return this.config.model_type;
  }

  get vocabSize(): number {
    return this.config.vocab_size;
  }

  get numLayers(): number {
    return this.config.num_hidden_layers;
  }

  get specialTokens(): SpecialTokens {
    return { bos: this.config.bos_token_id, eos: eosList(this.config.eos_token_id), pad: this.config.pad_token_id };
  }

  forward(inputIds: tf.Tensor, opts: CausalLMForwardOptions = {}): CausalLMOutput {
    const [batch, seq] = checkInputIds(inputIds);
    const cache = opts.cache;
    if (cache && cache.numLayers !== this.numLayers) {
      throw new Error(`KV cache has ${cache.numLayers} layers, the model has ${this.numLayers}`);
    }
    const past = cache?.length ?? 0;
    const training = opts.training ?? false;
    const _c = this.config;
    const logits = tf.tidy(() => {
      const positions = decoderPositions(batch, seq, past, opts); // [b, seq]
      const rot = ropeTables(positions, this.invFreq); // [b, 1, seq, dim]
      const bias = decoderBias(seq, past, opts.attentionMask); // [b|1, 1, seq, past + seq]
      let h = this.embed.apply(inputIds); // [b, seq, hidden]
      this.layers.forEach((layer, i) => {
        // While training (no cache): seeded dropout, and checkpointed with setGradientCheckpointing(true).
        h =
          training && !cache
            ? trainingBlock(
                (x, cos, sin, b) => layer.apply(x, { cos: cos!, sin: sin! }, b!, i, undefined, true),
                [h, rot.cos, rot.sin, bias],
                () => this.params.trainableUnder(`model.layers.${i}`),
              )
            : layer.apply(h, rot, bias, i, cache, training);
      });
      h = this.norm.apply(h);
      h = selectOutputStates(h, opts); // [b, seq|1, hidden] or [1, n, hidden]
      return this.lmHead ? this.lmHead.apply(h, training) : this.embed.project(h); // [b, seq|1, vocab]
    });
    return { logits, cache };
  }

  createCache(): KVCache {
    return new KVCache(this.numLayers);
  }

  linears(): Map<string, Linear> {
    const out = new Map<string, Linear>();
    for (const layer of this.layers) {
      for (const lin of [
        layer.attn.q,
        layer.attn.k,
        layer.attn.v,
        layer.attn.o,
        layer.mlp.gate,
        layer.mlp.up,
        layer.mlp.down,
      ]) {
        out.set(lin.name, lin);
      }
    }
    if (this.lmHead) out.set(this.lmHead.name, this.lmHead);
    return out;
  }

  configJson(): Record<string, unknown> {
    return llamaConfigToJson(this.config);
  }

  isSavedParam(name: string): boolean {
    return !name.includes('.lora_');
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Sets row `row` of a [num, dim] variable to zero. */
function zeroRow(weight: tf.Variable, row: number): void {
  tf.tidy(() => {
    const [num] = weight.shape;
    const keep = tf.reshape(tf.cast(tf.notEqual(tf.range(0, num, 1, 'int32'), row), 'float32'), [num, 1]);
    weight.assign(tf.mul(weight, keep));
  });
}

/**
 * The parameter an HF Llama/Qwen2 checkpoint tensor fills, or null for tensors this implementation
 * does not keep: the rotary `inv_freq` buffers older checkpoints stored, and `lm_head.weight` when
 * the head is tied.
 */
export function llamaParamName(name: string, config: LlamaConfig): string | null {
  if (name.endsWith('.rotary_emb.inv_freq')) return null;
  if (config.tie_word_embeddings && name === 'lm_head.weight') return null;
  return name;
}

/** Maps tensors read from an HF Llama/Qwen2 checkpoint onto this implementation's names ({@link llamaParamName}). */
export function llamaStateDict(raw: Map<string, HostTensor>, config: LlamaConfig): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of raw) {
    const target = llamaParamName(name, config);
    if (target !== null) out.set(target, t);
  }
  return out;
}
