/**
 * BERT (Devlin et al., 2019, "BERT: Pre-training of Deep Bidirectional Transformers for Language
 * Understanding"), the encoder of HF's `BertModel`: post-LayerNorm transformer layers over word +
 * position + token-type embeddings, and an optional pooler (dense + tanh over the [CLS] state).
 *
 * Parameters carry HF's `BertModel` tensor names (`embeddings.word_embeddings.weight`,
 * `encoder.layer.0.attention.self.query.weight`, …, `pooler.dense.weight`), so the ParamStore maps
 * one-to-one onto a `model.safetensors` saved by `BertModel.save_pretrained` or sentence-transformers.
 */
import * as tf from '@tensorflow/tfjs';
import {
  Embedding,
  LayerNorm,
  Linear,
  Mlp,
  ParamStore,
  attention,
  dropout,
  mergeHeads,
  paddingBias,
  splitHeads,
  trainingBlock,
  type HostTensor,
} from '@dalm/core';
import { validateBertConfig, type BertConfig } from './bert-config';

/** Per-call options of `BertModel.forward`. */
export interface BertForwardOptions {
  /** Apply dropout (hidden and attention). Default false. */
  training?: boolean;
  /** Compute the pooler output when the model has a pooler. Default true. */
  pooler?: boolean;
}

/** What `BertModel.forward` returns; the caller owns (and disposes) the tensors. */
export interface BertOutput {
  /** [batch, seq, hidden] */
  lastHiddenState: tf.Tensor;
  /** tanh(dense(h[:, 0])) [batch, hidden], or null for a model without pooler. */
  poolerOutput: tf.Tensor | null;
}

/** Load-time options of a BertModel. */
export interface BertModelOptions {
  /** Build the pooler (`pooler.dense`). Default true. */
  pooler?: boolean;
  /** Base seed of the random initialisation. Default 0. */
  seed?: number;
}

/** One post-LN transformer layer: h = LN(x + attn(x)); out = LN(h + ffn(h)). */
class BertLayer {
  private readonly query: Linear;
  private readonly key: Linear;
  private readonly value: Linear;
  private readonly attnOut: Linear;
  private readonly attnNorm: LayerNorm;
  private readonly ffn: Mlp;
  private readonly outNorm: LayerNorm;

  constructor(
    store: ParamStore,
    prefix: string,
    private readonly config: BertConfig,
  ) {
    const h = config.hidden_size;
    const init = { kind: 'normal' as const, std: config.initializer_range };
    this.query = new Linear(store, `${prefix}.attention.self.query`, h, h, { init });
    this.key = new Linear(store, `${prefix}.attention.self.key`, h, h, { init });
    this.value = new Linear(store, `${prefix}.attention.self.value`, h, h, { init });
    this.attnOut = new Linear(store, `${prefix}.attention.output.dense`, h, h, { init });
    this.attnNorm = new LayerNorm(store, `${prefix}.attention.output.LayerNorm`, h, config.layer_norm_eps);
    this.ffn = new Mlp(
      store,
      { up: `${prefix}.intermediate.dense`, down: `${prefix}.output.dense` },
      h,
      config.intermediate_size,
      config.hidden_act,
      { init },
    );
    this.outNorm = new LayerNorm(store, `${prefix}.output.LayerNorm`, h, config.layer_norm_eps);
  }

  /** x: [batch, seq, hidden], bias: [batch, 1, 1, seq] -> [batch, seq, hidden]. */
  apply(x: tf.Tensor, bias: tf.Tensor, training: boolean): tf.Tensor {
    return tf.tidy(() => {
      const heads = this.config.num_attention_heads;
      const q = splitHeads(this.query.apply(x, training), heads); // [b, heads, seq, dim]
      const k = splitHeads(this.key.apply(x, training), heads); // [b, heads, seq, dim]
      const v = splitHeads(this.value.apply(x, training), heads); // [b, heads, seq, dim]
      const ctx = mergeHeads(attention(q, k, v, { bias, dropout: this.config.attention_probs_dropout_prob, training })); // [b, seq, hidden]
      const attnOut = dropout(this.attnOut.apply(ctx, training), this.config.hidden_dropout_prob, training);
      const h = this.attnNorm.apply(tf.add(x, attnOut)); // [b, seq, hidden]
      const ffnOut = dropout(this.ffn.apply(h, training), this.config.hidden_dropout_prob, training);
      return this.outNorm.apply(tf.add(h, ffnOut)); // [b, seq, hidden]
    });
  }
}

/**
 * HF `BertModel`. Construction initialises every weight as HF does for a fresh model (normal with
 * std `initializer_range`, the padding row of the word embeddings zero, LayerNorm ones/zeros, biases
 * zero); `loadWeights` replaces them with a checkpoint's.
 *
 * @example
 * const bert = new BertModel(validateBertConfig({ ...SMALL_BERT_CONFIG, vocab_size: 8000 }));
 * const { lastHiddenState } = bert.forward(ids, mask); // [batch, seq, 256]
 */
export class BertModel {
  readonly config: BertConfig;
  readonly params: ParamStore;
  readonly hasPooler: boolean;
  private readonly wordEmbeddings: Embedding;
  private readonly positionEmbeddings: Embedding;
  private readonly tokenTypeEmbeddings: Embedding;
  private readonly embeddingNorm: LayerNorm;
  private readonly layers: BertLayer[] = [];
  private readonly pooler: Linear | null;

  constructor(config: BertConfig, opts: BertModelOptions = {}) {
    this.config = validateBertConfig(config);
    const c = this.config;
    this.params = new ParamStore(opts.seed ?? 0);
    this.hasPooler = opts.pooler ?? true;
    const init = { kind: 'normal' as const, std: c.initializer_range };
    this.wordEmbeddings = new Embedding(this.params, 'embeddings.word_embeddings', c.vocab_size, c.hidden_size, init);
    this.positionEmbeddings = new Embedding(
      this.params,
      'embeddings.position_embeddings',
      c.max_position_embeddings,
      c.hidden_size,
      init,
    );
    this.tokenTypeEmbeddings = new Embedding(
      this.params,
      'embeddings.token_type_embeddings',
      c.type_vocab_size,
      c.hidden_size,
      init,
    );
    this.embeddingNorm = new LayerNorm(this.params, 'embeddings.LayerNorm', c.hidden_size, c.layer_norm_eps);
    for (let i = 0; i < c.num_hidden_layers; i++) this.layers.push(new BertLayer(this.params, `encoder.layer.${i}`, c));
    this.pooler = this.hasPooler
      ? new Linear(this.params, 'pooler.dense', c.hidden_size, c.hidden_size, { init })
      : null;
    // HF zeroes the padding row of the word embeddings at init.
    tf.tidy(() => {
      const w = this.wordEmbeddings.weight;
      const keep = tf.reshape(tf.cast(tf.notEqual(tf.range(0, c.vocab_size, 1, 'int32'), c.pad_token_id), 'float32'), [
        c.vocab_size,
        1,
      ]);
      w.assign(tf.mul(w, keep));
    });
  }

  /**
   * inputIds, attentionMask, tokenTypeIds: int32 [batch, seq] (mask 1 = token, 0 = padding;
   * token types default to 0). Returns the last hidden states and, with a pooler (unless
   * `opts.pooler` is false), the pooled [CLS].
   */
  forward(
    inputIds: tf.Tensor,
    attentionMask: tf.Tensor,
    tokenTypeIds?: tf.Tensor | null,
    opts: BertForwardOptions = {},
  ): BertOutput {
    const training = opts.training ?? false;
    const c = this.config;
    if (inputIds.rank !== 2)
      throw new Error(`BertModel.forward: inputIds must be [batch, seq], got shape [${inputIds.shape}]`);
    const [batch, seq] = inputIds.shape as [number, number];
    if (seq > c.max_position_embeddings) {
      throw new Error(
        `BertModel.forward: sequence length ${seq} exceeds max_position_embeddings (${c.max_position_embeddings})`,
      );
    }
    for (const [name, t] of [
      ['attentionMask', attentionMask],
      ['tokenTypeIds', tokenTypeIds],
    ] as const) {
      if (t && (t.rank !== 2 || t.shape[0] !== batch || t.shape[1] !== seq)) {
        throw new Error(`BertModel.forward: ${name} has shape [${t.shape}], expected [${batch}, ${seq}]`);
      }
    }
    const [hidden, pooled] = tf.tidy(() => {
      const positions = tf.range(0, seq, 1, 'int32'); // [seq]
      const types = tokenTypeIds ?? tf.zeros([batch, seq], 'int32');
      let x = tf.add(
        tf.add(this.wordEmbeddings.apply(inputIds), this.tokenTypeEmbeddings.apply(types)), // [b, seq, hidden]
        tf.expandDims(this.positionEmbeddings.apply(positions), 0), // [1, seq, hidden]
      );
      x = dropout(this.embeddingNorm.apply(x), c.hidden_dropout_prob, training); // [b, seq, hidden]
      const bias = paddingBias(attentionMask); // [b, 1, 1, seq]
      this.layers.forEach((layer, i) => {
        // While training: seeded dropout, and checkpointed with setGradientCheckpointing(true).
        x = training
          ? trainingBlock(
              (h, b) => layer.apply(h, b!, true),
              [x, bias],
              () => this.params.trainableUnder(`encoder.layer.${i}`),
            )
          : layer.apply(x, bias, false); // [b, seq, hidden]
      });
      if (!this.pooler || opts.pooler === false) return [x];
      const first = tf.reshape(tf.slice(x, [0, 0, 0], [batch, 1, c.hidden_size]), [batch, c.hidden_size]); // [b, hidden]
      return [x, tf.tanh(this.pooler.apply(first, training))]; // [b, hidden]
    });
    return { lastHiddenState: hidden!, poolerOutput: pooled ?? null };
  }

  /**
   * Assigns checkpoint tensors, given in the on-disk layout with HF names (see `bertStateDict`
   * to normalise a raw checkpoint first). Every parameter must be present; `source` names the file
   * in errors.
   */
  loadWeights(tensors: Map<string, HostTensor>, source = 'weights'): void {
    this.params.loadHost(tensors, { strict: true, source });
  }

  dispose(): void {
    this.params.dispose();
  }
}

/**
 * Whether a checkpoint tensor (raw name, `bert.` prefix allowed) is not a BertModel parameter and
 * is skipped on load: MLM/NSP heads and the `position_ids` / `token_type_ids` buffers (often I64).
 */
export function isIgnoredBertTensor(rawName: string): boolean {
  return isIgnoredTensor(rawName.startsWith('bert.') ? rawName.slice('bert.'.length) : rawName);
}

/** Tensor names that are not BertModel parameters and are skipped on load. */
function isIgnoredTensor(name: string): boolean {
  return (
    name.startsWith('cls.') || // MLM / NSP heads of BertForPreTraining / BertForMaskedLM
    name === 'embeddings.position_ids' || // non-persistent buffers older versions saved
    name === 'embeddings.token_type_ids'
  );
}

/**
 * Normalises a raw checkpoint into BertModel names: strips a `bert.` prefix (BertForMaskedLM,
 * BertForPreTraining) and drops `cls.*` head tensors and `position_ids`/`token_type_ids` buffers.
 * Reports whether the checkpoint has a pooler.
 */
export function bertStateDict(raw: Map<string, HostTensor>): { tensors: Map<string, HostTensor>; hasPooler: boolean } {
  const tensors = new Map<string, HostTensor>();
  for (const [rawName, t] of raw) {
    const name = rawName.startsWith('bert.') ? rawName.slice('bert.'.length) : rawName;
    if (isIgnoredTensor(name)) continue;
    tensors.set(name, t);
  }
  return { tensors, hasPooler: tensors.has('pooler.dense.weight') };
}
