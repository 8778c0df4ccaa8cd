/**
 * The bi-encoder: a BERT-family transformer, its tokenizer and the settings around it (prefixes,
 * truncation, pooling, normalisation), as sentence-transformers' `SentenceTransformer` with a
 * Transformer → Pooling → [Dense …] → [Normalize] pipeline. Queries and passages share the weights
 * and differ only by their prefixes (E5's "query: " / "passage: ", ST's prompts).
 *
 * A saved encoder is one directory that loads here, in HF `transformers` (`BertModel`) and in
 * sentence-transformers: `config.json`, `model.safetensors`, tokenizer files and the
 * sentence-transformers module files (see sentence-transformers.ts).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { requireConfigFields, resolveModel } from '@dalm/core';
import * as tf from '@tensorflow/tfjs';
import {
  canReadSync,
  loadTokenizer,
  readConfigJson,
  readSafetensors,
  serializeSafetensors,
  writeModelDir,
  type HostTensor,
  type ParamStore,
  type Tokenizer,
} from '@dalm/core';
import { BertModel, bertStateDict, isIgnoredBertTensor } from './bert';
import { bertConfigToJson, validateBertConfig, type BertConfig } from './bert-config';
import { DenseLayer } from './dense';
import type { Embedder } from './embedder';
import { DEFAULT_ENCODER_SETTINGS, validateEncoderSettings, type EncoderSettings } from './encoder-settings';
import { l2Normalize, pool, poolingModes } from './pooling';
import { readSentenceTransformersDir, sentenceTransformersFiles } from './sentence-transformers';

/** Which prefix a text gets: the query prefix, the passage prefix, or the default prefix (`none`; usually empty). */
export type TextKind = 'query' | 'passage' | 'none';

/** Token id rows (special tokens included, unpadded), e.g. from `Encoder.tokenize`. */
export interface TokenBatch {
  inputIds: number[][];
}

/** Per-call options of `Encoder.encodeTensor`. */
export interface EncodeTensorOptions {
  /** Dropout on (for contrastive training). Default false. */
  training?: boolean;
  /**
   * Prefix for string inputs. Default 'none'. For token rows it names the prefix they were made
   * with (from `tokenize(texts, kind)`), which `includePrompt: false` leaves out of the pooling.
   */
  kind?: TextKind;
}

/** Per-call options of `Encoder.embed`. */
export interface EmbedOptions {
  /** Prefix to add. Default 'none'. */
  kind?: TextKind;
  /** Texts per forward pass. Default 32. */
  batchSize?: number;
}

/** A padded batch: int32 [batch, seq] ids and mask (1 = token, 0 = padding). */
interface PaddedBatch {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
}

const FINGERPRINT_HEX_CHARS = 16;

/**
 * A bi-encoder: texts → one vector each. Implements `Embedder` for indexes and `encodeTensor` for
 * training.
 *
 * @example
 * const enc = await loadEncoder('models/retriever');
 * const [q] = await enc.embedQueries(['what binds ACE2?']); // Float32Array(enc.dim)
 */
export class Encoder implements Embedder {
  readonly settings: EncoderSettings;
  /** null until computed: on a backend without synchronous reads (webgpu under Node), until `ensureFingerprint()`. */
  private fingerprintHex: string | null = null;
  /** `model.params.version` when `fingerprintHex` was computed: a newer version means the weights changed since. */
  private fingerprintVersion = -1;
  /** Prompt token counts by kind, for `includePrompt: false`. */
  private readonly promptLengths = new Map<TextKind, number>();

  constructor(
    readonly model: BertModel,
    readonly tokenizer: Tokenizer,
    settings: Partial<EncoderSettings> = {},
    /** Names where the settings came from, in errors. */
    source = 'EncoderSettings',
    /** Dense modules after the pooling (their parameters live in `model.params`). */
    readonly dense: readonly DenseLayer[] = [],
  ) {
    if (tokenizer.vocabSize > model.config.vocab_size) {
      throw new Error(
        `Encoder: the tokenizer has ${tokenizer.vocabSize} ids but the model's vocab_size is ${model.config.vocab_size}`,
      );
    }
    this.settings = validateEncoderSettings(
      { maxLength: Math.min(DEFAULT_ENCODER_SETTINGS.maxLength, model.config.max_position_embeddings), ...settings },
      model.config.max_position_embeddings,
      source,
    );
    let width = this.pooledDim;
    for (const d of dense) {
      if (d.config.in_features !== width) {
        throw new Error(
          `Encoder: Dense module "${d.path}" takes ${d.config.in_features}-wide vectors but the module before it gives ${width}`,
        );
      }
      width = d.config.out_features;
    }
    if (canReadSync()) this.setFingerprint(this.model.params.toHost());
  }

  /** Width of the pooled vector: the hidden size times the number of pooling modes. */
  get pooledDim(): number {
    return this.model.config.hidden_size * poolingModes(this.settings.pooling).length;
  }

  /** Vector length: the last Dense module's out_features, else the pooled width (usually the hidden size). */
  get dim(): number {
    const last = this.dense[this.dense.length - 1];
    return last ? last.config.out_features : this.pooledDim;
  }

  /** The model's parameters, by HF name (what an optimizer updates). */
  get params(): ParamStore {
    return this.model.params;
  }

  get config(): BertConfig {
    return this.model.config;
  }

  /**
   * Short sha256 of the parameter values, the tokenizer and the settings. Follows the weights: once
   * they change (an optimizer step, `loadHost`, a LoRA merge — anything that bumps
   * `params.version`), the next read recomputes it. On a backend that cannot read synchronously
   * (webgpu under Node) that recomputation has to be awaited: call `await ensureFingerprint()`
   * first (`loadEncoder` does, and so does everything in this framework that builds an index).
   */
  get fingerprint(): string {
    if (this.fingerprintHex !== null && this.fingerprintVersion === this.model.params.version)
      return this.fingerprintHex;
    if (canReadSync()) return this.setFingerprint(this.model.params.toHost());
    throw new Error(
      `Encoder.fingerprint: ${this.fingerprintHex === null ? 'not computed yet' : 'the weights changed since it was computed'} ` +
        `(the ${tf.getBackend()} backend cannot read the weights synchronously); call await encoder.ensureFingerprint() first`,
    );
  }

  /** Recomputes the fingerprint from the current weights, whatever their version, and returns it. */
  async refreshFingerprint(): Promise<string> {
    const version = this.model.params.version;
    return this.setFingerprint(await this.model.params.toHostAsync(), version);
  }

  /**
   * The fingerprint of the current weights, computed (asynchronously) only when it is missing or
   * the weights changed since; the way to read it on a backend without synchronous reads.
   *
   * @example
   * const enc = createEncoder({ tokenizer, seed: 1 });
   * await enc.ensureFingerprint(); // before building an index on webgpu
   */
  async ensureFingerprint(): Promise<string> {
    if (this.fingerprintHex !== null && this.fingerprintVersion === this.model.params.version)
      return this.fingerprintHex;
    return this.refreshFingerprint();
  }

  private setFingerprint(host: Map<string, HostTensor>, version = this.model.params.version): string {
    this.fingerprintHex = this.hashFingerprint(host);
    this.fingerprintVersion = version;
    return this.fingerprintHex;
  }

  private hashFingerprint(host: Map<string, HostTensor>): string {
    const hash = createHash('sha256');
    for (const name of [...host.keys()].sort()) {
      const t = host.get(name)!;
      hash.update(`${name}[${t.shape.join(',')}]`);
      hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    hash.update(JSON.stringify(this.tokenizer.toJSON()));
    hash.update(JSON.stringify(this.settings));
    return hash.digest('hex').slice(0, FINGERPRINT_HEX_CHARS);
  }

  /** The prefix a text of this kind gets. */
  prefix(kind: TextKind): string {
    return encoderPrefix(this.settings, kind);
  }

  /** Texts → token id rows with their prefix and special tokens, truncated to `maxLength`. */
  tokenize(texts: readonly string[], kind: TextKind = 'none'): number[][] {
    return tokenizeForEncoder(this.tokenizer, this.settings, texts, kind);
  }

  /**
   * How many leading positions `includePrompt: false` leaves out of the pooling for this kind: 0
   * when prompts are pooled or the prefix is empty, else the prefix's token count with the leading
   * special tokens and without a trailing one (sentence-transformers' `prompt_length`).
   */
  promptLength(kind: TextKind): number {
    if (this.settings.includePrompt) return 0;
    const prefix = this.prefix(kind);
    if (prefix === '') return 0;
    let n = this.promptLengths.get(kind);
    if (n === undefined) {
      const ids = encodeEncoderRow(this.tokenizer, this.settings, prefix);
      const specials = new Set(Object.values(this.tokenizer.special).filter((v): v is number => typeof v === 'number'));
      n = ids.length > 0 && specials.has(ids[ids.length - 1]!) ? ids.length - 1 : ids.length;
      this.promptLengths.set(kind, n);
    }
    return n;
  }

  /** Right-pads rows to the longest one. */
  private pad(rows: readonly number[][]): PaddedBatch {
    if (rows.length === 0) throw new Error('Encoder: cannot encode an empty batch');
    const seq = Math.max(1, ...rows.map((r) => r.length));
    if (seq > this.model.config.max_position_embeddings) {
      throw new Error(
        `Encoder: a row has ${seq} tokens, more than max_position_embeddings (${this.model.config.max_position_embeddings})`,
      );
    }
    const ids = new Int32Array(rows.length * seq).fill(this.model.config.pad_token_id);
    const mask = new Int32Array(rows.length * seq);
    rows.forEach((row, i) => {
      ids.set(row, i * seq);
      mask.fill(1, i * seq, i * seq + row.length);
    });
    return {
      inputIds: tf.tensor2d(ids, [rows.length, seq], 'int32'),
      attentionMask: tf.tensor2d(mask, [rows.length, seq], 'int32'),
    };
  }

  /**
   * Texts (or token rows) → pooled, optionally normalised vectors [batch, hidden], differentiable
   * with respect to `params`. The caller owns the result.
   *
   * @example
   * const { value, grads } = tf.variableGrads(() => infoNce(enc.encodeTensor(qs, { kind: 'query', training: true }), …));
   */
  encodeTensor(input: readonly string[] | TokenBatch, opts: EncodeTensorOptions = {}): tf.Tensor2D {
    const kind = opts.kind ?? 'none';
    const rows = isTokenBatch(input) ? input.inputIds : this.tokenize(input, kind);
    const promptLength = this.promptLength(kind);
    return tf.tidy(() => {
      const { inputIds, attentionMask } = this.pad(rows);
      const { lastHiddenState } = this.model.forward(inputIds, attentionMask, null, {
        training: opts.training,
        pooler: false,
      });
      // Pooling mask: the attention mask, minus the prompt's positions when they are not pooled.
      const poolMask =
        promptLength > 0
          ? tf.mul(
              attentionMask,
              tf.cast(tf.greaterEqual(tf.range(0, attentionMask.shape[1], 1, 'int32'), promptLength), 'int32'),
            )
          : attentionMask;
      let v = pool(this.settings.pooling, lastHiddenState, poolMask); // [batch, hidden · modes]
      for (const d of this.dense) v = d.apply(v, opts.training); // [batch, out_features]
      return (this.settings.normalize ? l2Normalize(v) : v) as tf.Tensor2D;
    });
  }

  /**
   * Embeds texts in batches (inference). Texts are sorted by token count so each batch pads only to
   * its own longest text, then the vectors are put back in input order.
   */
  async embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    const kind = opts.kind ?? 'none';
    return embedInLengthOrder(this.tokenize(texts, kind), opts.batchSize ?? 32, this.dim, async (batch) => {
      const vectors = this.encodeTensor({ inputIds: batch }, { kind }); // [n, dim]
      const data = (await vectors.data()) as Float32Array;
      vectors.dispose();
      return data;
    });
  }

  embedQueries(texts: string[]): Promise<Float32Array[]> {
    return this.embed(texts, { kind: 'query' });
  }

  embedPassages(texts: string[]): Promise<Float32Array[]> {
    return this.embed(texts, { kind: 'passage' });
  }

  /**
   * Writes the encoder directory atomically: HF `config.json` + `model.safetensors` (F32, HF names),
   * tokenizer files, and the sentence-transformers module files (each Dense module's
   * `config.json` + `model.safetensors` with `linear.weight` / `linear.bias`).
   */
  async save(dir: string): Promise<void> {
    const host = await this.model.params.toHostAsync();
    const denseFiles: Record<string, Uint8Array> = {};
    for (const d of this.dense) {
      const tensors = new Map<string, HostTensor>();
      for (const [name, t] of host) {
        if (!name.startsWith(d.prefix)) continue;
        tensors.set(name.slice(d.prefix.length), t);
        host.delete(name);
      }
      denseFiles[`${d.path}/model.safetensors`] = serializeSafetensors(tensors);
    }
    await writeModelDir(dir, {
      config: bertConfigToJson(this.model.config),
      tensors: host,
      extraFiles: {
        ...this.tokenizer.toFiles(),
        ...sentenceTransformersFiles(this.settings, this.model.config.hidden_size, this.dense),
        ...denseFiles,
      },
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Texts → token id rows as the encoder sees them: prefix by `kind`, lower-cased when the settings
 * say so, special tokens added, truncated to `maxLength` (a row ending in [SEP]/EOS keeps it, as HF
 * truncation does). Shared by every runtime that runs the encoder (tfjs here, ONNX Runtime).
 */
/** The prefix a text of this kind gets: the query / passage prompt, else the default prompt. */
export function encoderPrefix(settings: EncoderSettings, kind: TextKind): string {
  return kind === 'query' ? settings.queryPrefix : kind === 'passage' ? settings.passagePrefix : settings.defaultPrefix;
}

/**
 * One text → token ids with special tokens, lower-cased when the settings say so, truncated to
 * `maxLength`. A row ending in a special token ([SEP]) keeps it, as HF truncation does.
 */
export function encodeEncoderRow(tokenizer: Tokenizer, settings: EncoderSettings, full: string): number[] {
  const max = settings.maxLength;
  const { sep, eos } = tokenizer.special;
  const ids = tokenizer.encode(settings.lowercase ? full.toLowerCase() : full);
  if (ids.length <= max) return ids;
  const last = ids[ids.length - 1]!;
  return last === sep || last === eos ? [...ids.slice(0, max - 1), last] : ids.slice(0, max);
}

/** Texts → token id rows with their prefix and special tokens, truncated (shared by the tfjs and ONNX encoders). */
export function tokenizeForEncoder(
  tokenizer: Tokenizer,
  settings: EncoderSettings,
  texts: readonly string[],
  kind: TextKind = 'none',
): number[][] {
  const prefix = encoderPrefix(settings, kind);
  return texts.map((text) => encodeEncoderRow(tokenizer, settings, prefix + text));
}

/**
 * Runs `run` (token rows → their vectors, row-major [rows, dim]) over batches of at most
 * `batchSize` rows, sorted by token count so each batch pads only to its own longest row, and
 * returns one vector per row in input order.
 */
export async function embedInLengthOrder(
  rows: readonly number[][],
  batchSize: number,
  dim: number,
  run: (batch: number[][]) => Promise<Float32Array>,
): Promise<Float32Array[]> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`Encoder.embed: batchSize must be a positive integer, got ${batchSize}`);
  const order = rows.map((_, i) => i).sort((a, b) => rows[b]!.length - rows[a]!.length || a - b);
  const out = new Array<Float32Array>(rows.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = order.slice(start, start + batchSize);
    const data = await run(idx.map((i) => rows[i]!));
    idx.forEach((original, j) => {
      out[original] = data.slice(j * dim, (j + 1) * dim);
    });
  }
  return out;
}

function isTokenBatch(input: readonly string[] | TokenBatch): input is TokenBatch {
  return !Array.isArray(input) && typeof input === 'object' && Array.isArray((input as TokenBatch).inputIds);
}

/** What `createEncoder` needs for a from-scratch model. */
export interface CreateEncoderOptions {
  /** BERT sizes; `vocab_size` defaults to the tokenizer's, `pad_token_id` to its pad id. */
  config?: Partial<BertConfig>;
  tokenizer: Tokenizer;
  settings?: Partial<EncoderSettings>;
  /** Seed of the random initialisation. Default 0. */
  seed?: number;
  /** Include the pooler (`pooler.dense`, unused by the bi-encoder but kept for HF's BertModel). Default true. */
  pooler?: boolean;
}

/**
 * A randomly initialised encoder (normal(0, initializer_range) weights, LayerNorm ones/zeros).
 * Synchronous: on webgpu under Node its fingerprint is computed by `await enc.ensureFingerprint()`
 * (the training recipes, the quickstart and the CLI call it; on other backends it is ready at once).
 *
 * @example
 * const tokenizer = trainWordPiece(corpus, { vocabSize: 8000 });
 * const enc = createEncoder({ config: SMALL_BERT_CONFIG, tokenizer, settings: { maxLength: 128 }, seed: 1 });
 */
export function createEncoder(opts: CreateEncoderOptions): Encoder {
  const config = validateBertConfig({
    vocab_size: opts.tokenizer.vocabSize,
    pad_token_id: opts.tokenizer.special.pad ?? 0,
    ...opts.config,
  });
  const model = new BertModel(config, { pooler: opts.pooler ?? true, seed: opts.seed ?? 0 });
  try {
    return new Encoder(model, opts.tokenizer, opts.settings);
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Loads an encoder directory: a saved `Encoder`, a sentence-transformers BERT model (every module
 * and setting its files name, see sentence-transformers.ts; anything else is refused by name), or
 * a plain HF BERT directory (pooling by the no-modules.json rule: `1_Pooling/config.json`, CLS for
 * BGE, else mean; normalised; no prefixes). Without `max_seq_length` the inputs are truncated at
 * min(tokenizer `model_max_length`, `max_position_embeddings`), as sentence-transformers does.
 * `nameOrDir` may also be a Hub id `org/name[@revision]` (fetched into the HF cache, see
 * `resolveModel`). `overrides` replace settings read from the files.
 *
 * @example
 * const enc = await loadEncoder('/work/shared/fixtures/hf-tiny/bert-tiny');
 * const minilm = await loadEncoder('sentence-transformers/all-MiniLM-L6-v2');
 */
export async function loadEncoder(nameOrDir: string, overrides: Partial<EncoderSettings> = {}): Promise<Encoder> {
  const dir = await resolveModel(nameOrDir);
  const st = await readSentenceTransformersDir(dir);
  const modelDir = st.transformerDir;
  const configFile = path.join(modelDir, 'config.json');
  const rawConfig = await readConfigJson(modelDir);
  if (rawConfig.model_type !== undefined && rawConfig.model_type !== 'bert') {
    throw new Error(
      `${configFile}: "model_type" is ${JSON.stringify(rawConfig.model_type)}; this encoder loads "bert" models`,
    );
  }
  requireConfigFields(
    rawConfig,
    ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size'],
    configFile,
  );
  const config = validateBertConfig(rawConfig, configFile);
  const weightsFile = path.join(modelDir, 'model.safetensors');
  const raw = new Map<string, HostTensor>();
  for (const [name, t] of await readSafetensors(weightsFile)) {
    if (isIgnoredBertTensor(name)) continue; // buffers such as an I64 embeddings.position_ids
    if (!(t.data instanceof Float32Array))
      throw new Error(`${weightsFile}: tensor "${name}" has integer dtype ${t.dtype}; expected floats`);
    raw.set(name, { shape: t.shape, data: t.data });
  }
  const { tensors, hasPooler } = bertStateDict(raw);
  const { settings: read, dense: denseSpecs, tokenizerMaxLength, poolingWidth, poolingRule } = st;
  if (poolingWidth !== undefined && poolingWidth !== config.hidden_size) {
    throw new Error(
      `${poolingRule}: the pooling width (${poolingWidth}) differs from the transformer's hidden_size (${config.hidden_size}, ${configFile})`,
    );
  }
  const maxLength =
    read.maxLength ?? Math.min(tokenizerMaxLength ?? config.max_position_embeddings, config.max_position_embeddings);
  const settings = { ...read, maxLength, ...overrides };
  const tokenizer = await loadTokenizer(modelDir);
  const model = new BertModel(config, { pooler: hasPooler });
  try {
    const dense = denseSpecs.map((d) => new DenseLayer(model.params, d.path, d.config));
    for (const [i, d] of denseSpecs.entries()) {
      for (const [name, t] of await readSafetensors(d.weightsFile)) {
        if (!(t.data instanceof Float32Array))
          throw new Error(`${d.weightsFile}: tensor "${name}" has integer dtype ${t.dtype}; expected floats`);
        if (name !== 'linear.weight' && name !== 'linear.bias')
          throw new Error(
            `${d.weightsFile}: unexpected tensor "${name}" (a Dense module has linear.weight and linear.bias)`,
          );
        tensors.set(`${dense[i]!.prefix}${name}`, { shape: t.shape, data: t.data });
      }
    }
    model.loadWeights(tensors, [weightsFile, ...denseSpecs.map((d) => d.weightsFile)].join(' + '));
    const encoder = new Encoder(model, tokenizer, settings, `encoder settings of ${dir}`, dense);
    await encoder.ensureFingerprint(); // computed by the constructor unless the backend reads asynchronously only
    return encoder;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
