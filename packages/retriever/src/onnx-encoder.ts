/**
 * The bi-encoder on ONNX Runtime: the exported BERT graph (bert-onnx.ts) runs the transformer,
 * multi-threaded; tokenisation, prefixes, truncation, batching, pooling and normalisation are the
 * tfjs encoder's own functions, so both runtimes give the same vectors (to float rounding) and the
 * same fingerprint, and an index built with one is searched with the other.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveModel } from '@dalm/core';
import {
  createOnnxSession,
  resolveInferenceRuntime,
  type InferenceRuntime,
  type InferenceRuntimeChoice,
  type OnnxRuntime,
  type OnnxSession,
  type Tokenizer,
} from '@dalm/core';
import { ensureEncoderOnnx } from './bert-onnx';
import type { Embedder } from './embedder';
import type { EncoderSettings } from './encoder-settings';
import {
  embedInLengthOrder,
  loadEncoder,
  tokenizeForEncoder,
  type EmbedOptions,
  type Encoder,
  type TextKind,
} from './encoder';
import { l2Normalize, pool } from './pooling';

/** What the ONNX encoder keeps from the source encoder. */
export interface OnnxEncoderSource {
  tokenizer: Tokenizer;
  settings: EncoderSettings;
  /** Vector length (the hidden size, times the number of pooling modes concatenated). */
  dim: number;
  padTokenId: number;
  /** Width of the transformer's hidden states. */
  hiddenSize: number;
  /** The source encoder's fingerprint (its weights, tokenizer and settings). */
  fingerprint: string;
}

/**
 * An `Embedder` running an exported encoder on ONNX Runtime. Build it with `loadOnnxEncoder`.
 *
 * @example
 * const enc = await loadOnnxEncoder('models/retriever');
 * const [v] = await enc.embedPassages(['ACE2 is the receptor of SARS-CoV-2.']);
 */
export class OnnxEncoder implements Embedder {
  readonly runtime = 'onnx' as const;
  readonly tokenizer: Tokenizer;
  readonly settings: EncoderSettings;
  readonly dim: number;
  readonly fingerprint: string;
  private readonly padTokenId: number;
  /** Width of the transformer's hidden states (dim can be a multiple: several pooling modes concatenated). */
  private readonly hiddenSize: number;

  constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: OnnxSession,
    source: OnnxEncoderSource,
    /** Intra-op threads of the session. */
    readonly threads: number,
    /** The model file the session runs. */
    readonly modelFile: string,
  ) {
    this.tokenizer = source.tokenizer;
    this.settings = source.settings;
    this.dim = source.dim;
    this.fingerprint = source.fingerprint;
    this.padTokenId = source.padTokenId;
    this.hiddenSize = source.hiddenSize;
  }

  /** Token rows as the tfjs encoder makes them (prefix, lower-casing, truncation). */
  tokenize(texts: readonly string[], kind: TextKind = 'none'): number[][] {
    return tokenizeForEncoder(this.tokenizer, this.settings, texts, kind);
  }

  /** Token rows → pooled (and normalised, per the settings) vectors, row-major [rows, dim]. */
  async encodeRows(rows: readonly number[][]): Promise<Float32Array> {
    if (rows.length === 0) throw new Error('OnnxEncoder: cannot encode an empty batch');
    const batch = rows.length;
    const seq = Math.max(1, ...rows.map((r) => r.length));
    const ids = new BigInt64Array(batch * seq).fill(BigInt(this.padTokenId));
    const mask = new BigInt64Array(batch * seq);
    const maskI32 = new Int32Array(batch * seq);
    rows.forEach((row, i) => {
      for (let t = 0; t < row.length; t++) ids[i * seq + t] = BigInt(row[t]!);
      mask.fill(1n, i * seq, i * seq + row.length);
      maskI32.fill(1, i * seq, i * seq + row.length);
    });
    const shape = [batch, seq];
    const feeds = {
      input_ids: new this.ort.Tensor('int64', ids, shape),
      attention_mask: new this.ort.Tensor('int64', mask, shape),
      token_type_ids: new this.ort.Tensor('int64', new BigInt64Array(batch * seq), shape),
    };
    const out = await this.session.run(feeds);
    const hidden = out.last_hidden_state!;
    const data = hidden.data as Float32Array;
    const vectors = tf.tidy(() => {
      const h = tf.tensor3d(data, [batch, seq, this.hiddenSize]); // [b, s, hidden]
      const pooled = pool(this.settings.pooling, h, tf.tensor2d(maskI32, [batch, seq], 'int32')); // [b, hidden]
      return this.settings.normalize ? l2Normalize(pooled) : pooled;
    });
    hidden.dispose();
    const result = (await vectors.data()) as Float32Array;
    vectors.dispose();
    return result;
  }

  /** Embeds texts in length-sorted batches (as `Encoder.embed`). */
  embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
    return embedInLengthOrder(this.tokenize(texts, opts.kind ?? 'none'), opts.batchSize ?? 32, this.dim, (batch) =>
      this.encodeRows(batch),
    );
  }

  embedQueries(texts: string[]): Promise<Float32Array[]> {
    return this.embed(texts, { kind: 'query' });
  }

  embedPassages(texts: string[]): Promise<Float32Array[]> {
    return this.embed(texts, { kind: 'passage' });
  }

  /** Closes the session. */
  dispose(): void {
    void this.session.release();
  }
}

/** Options of `loadOnnxEncoder` / `loadRetriever`. */
export interface LoadRetrieverOptions {
  /** Settings replacing those read from the directory. */
  overrides?: Partial<EncoderSettings>;
  /** Intra-op threads. Default: every core. */
  threads?: number;
  /** For `loadRetriever`: 'auto' (default) runs on ONNX Runtime when onnxruntime-node is installed. */
  runtime?: InferenceRuntimeChoice;
}

/**
 * Loads an encoder directory onto ONNX Runtime: the encoder is read as `loadEncoder` reads it (for
 * its tokenizer, settings and fingerprint), exported to `<dir>/onnx/model.onnx` on first use (or
 * again after the weights changed; see ensureEncoderOnnx), and the tfjs copy of the weights is
 * released.
 *
 * @example
 * const enc = await loadOnnxEncoder('models/retriever', { threads: 4 });
 */
export async function loadOnnxEncoder(nameOrDir: string, opts: LoadRetrieverOptions = {}): Promise<OnnxEncoder> {
  const dir = await resolveModel(nameOrDir); // a Hub id exports into its cached snapshot directory
  const encoder = await loadEncoder(dir, opts.overrides);
  const unsupported = onnxUnsupported(encoder);
  if (unsupported) {
    encoder.dispose();
    throw new Error(`${dir}: ${unsupported}, which the ONNX Runtime path does not run yet; use --runtime tfjs`);
  }
  return onnxFromEncoder(dir, encoder, opts.threads);
}

/** Exports (or reuses the export of) a loaded encoder and runs it on ONNX Runtime; the tfjs copy is released. */
async function onnxFromEncoder(dir: string, encoder: Encoder, threads?: number): Promise<OnnxEncoder> {
  try {
    const { modelFile } = await ensureEncoderOnnx(dir, encoder);
    return await onnxEncoderFor(encoder, modelFile, threads);
  } finally {
    encoder.dispose();
  }
}

/**
 * What of an encoder's head the ONNX path (transformer graph + pooling and normalisation here) cannot
 * compute, or null: sentence-transformers Dense modules, and prompts left out of the pooling.
 */
export function onnxUnsupported(encoder: Encoder): string | null {
  if (encoder.dense.length > 0) return `the encoder has ${encoder.dense.length} sentence-transformers Dense module(s)`;
  if (
    !encoder.settings.includePrompt &&
    (['query', 'passage', 'none'] as const).some((k) => encoder.promptLength(k) > 0)
  ) {
    return 'the encoder pools without its prompt tokens (include_prompt: false)';
  }
  return null;
}

/** An OnnxEncoder running `modelFile` (an export of `encoder`) with the encoder's tokenizer, settings and fingerprint. */
export async function onnxEncoderFor(
  encoder: Encoder,
  modelFile: string | Uint8Array,
  threads?: number,
): Promise<OnnxEncoder> {
  const { session, threads: n, ort } = await createOnnxSession(modelFile, { threads });
  const source: OnnxEncoderSource = {
    tokenizer: encoder.tokenizer,
    settings: encoder.settings,
    dim: encoder.dim,
    padTokenId: encoder.config.pad_token_id,
    hiddenSize: encoder.config.hidden_size,
    fingerprint: encoder.fingerprint,
  };
  return new OnnxEncoder(ort, session, source, n, typeof modelFile === 'string' ? modelFile : '<bytes>');
}

/** An encoder for inference on either runtime. */
export type RetrieverEmbedder = Encoder | OnnxEncoder;

/** Which runtime an embedder runs on. */
export function embedderRuntime(e: RetrieverEmbedder): InferenceRuntime {
  return e instanceof OnnxEncoder ? 'onnx' : 'tfjs';
}

/**
 * Loads an encoder directory for inference (index, search, eval, ask): on ONNX Runtime when
 * `runtime` is 'onnx', or 'auto' and onnxruntime-node is installed; else on tfjs (`loadEncoder`).
 * Training always uses `loadEncoder`.
 *
 * @example
 * const enc = await loadRetriever('models/retriever', { runtime: 'auto' });
 */
export async function loadRetriever(nameOrDir: string, opts: LoadRetrieverOptions = {}): Promise<RetrieverEmbedder> {
  const runtime = await resolveInferenceRuntime(opts.runtime ?? 'auto');
  if (runtime !== 'onnx') return loadEncoder(nameOrDir, opts.overrides);
  const dir = await resolveModel(nameOrDir);
  if (opts.runtime === 'onnx') return loadOnnxEncoder(dir, opts);
  // auto: ONNX Runtime where it computes the same head, else tfjs.
  const encoder = await loadEncoder(dir, opts.overrides);
  return onnxUnsupported(encoder) ? encoder : onnxFromEncoder(dir, encoder, opts.threads);
}
