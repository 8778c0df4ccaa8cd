/**
 * A Llama/Qwen2/GPT-2 generator on ONNX Runtime: the exported graph (llama-onnx.ts, gpt2-onnx.ts) with its key/value
 * cache carried between steps (present.N.* of one step are past_key_values.N.* of the next), behind
 * the IncrementalLM interface, so `generate`/`stream`/RagPipeline run on it unchanged — same
 * sampling, stop strings and seeded RNG as on tfjs. Positions are HF's (cumsum(mask) − 1, pads 1).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  ONNX_EXPORT_DIR,
  ONNX_EXPORT_MODEL_FILE,
  atomicWriteDir,
  createOnnxSession,
  ensureOnnxExport,
  weightsHash,
  resolveInferenceRuntime,
  type HostTensor,
  type InferenceRuntimeChoice,
  type OnnxRuntime,
  type OnnxSession,
  type OnnxTensor,
  type Tokenizer,
} from '@dalm/core';
import type { CausalLM, CausalLMType, SpecialTokens } from './causal-lm';
import type { LlamaConfig } from './llama-config';
import { loadGenerator, type LoadedGenerator } from './generator-dir';
import { generationConfigJson } from './load';
import { GPT2_ONNX_EXPORTER, gpt2OnnxModel } from './gpt2-onnx';
import type { Gpt2Config } from './gpt2';
import { LLAMA_ONNX_EXPORTER, llamaOnnxModel, mergedDecoderWeights } from './llama-onnx';
import type { PromptFormat } from './prompt-format';
import type { IncrementalLM, TokenStepper } from './token-stepper';

/** Shapes the stepper needs to build empty caches. */
interface DecoderShape {
  modelType: CausalLMType;
  vocabSize: number;
  numLayers: number;
  kvHeads: number;
  headDim: number;
  specialTokens: SpecialTokens;
}

/** Position ids of the last `seq` columns: cumsum(mask) − 1, padding slots 1 (HF generate). */
function positionIds(mask: readonly number[], seq: number): bigint[] {
  const out: bigint[] = [];
  let sum = 0;
  mask.forEach((m, j) => {
    sum += m;
    if (j >= mask.length - seq) out.push(BigInt(m === 0 ? 1 : sum - 1));
  });
  return out;
}

class OrtStepper implements TokenStepper {
  private past: Record<string, OnnxTensor> | null = null;

  constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: OnnxSession,
    private readonly shape: DecoderShape,
    private readonly useCache: boolean,
  ) {}

  private emptyPast(batch: number): Record<string, OnnxTensor> {
    const feeds: Record<string, OnnxTensor> = {};
    const dims = [batch, this.shape.kvHeads, 0, this.shape.headDim];
    for (let i = 0; i < this.shape.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = new this.ort.Tensor('float32', new Float32Array(0), dims);
      feeds[`past_key_values.${i}.value`] = new this.ort.Tensor('float32', new Float32Array(0), dims);
    }
    return feeds;
  }

  async logits(ids: readonly number[][], mask: readonly number[][]): Promise<Float32Array> {
    const batch = ids.length;
    const total = mask[0]!.length;
    const cached = this.useCache && this.past !== null;
    const seq = cached ? 1 : ids[0]!.length;
    const past = cached ? this.past! : this.emptyPast(batch);
    const feedIds = BigInt64Array.from(ids.flatMap((r) => r.slice(r.length - seq).map(BigInt)));
    const feeds: Record<string, OnnxTensor> = {
      ...past,
      input_ids: new this.ort.Tensor('int64', feedIds, [batch, seq]),
      attention_mask: new this.ort.Tensor('int64', BigInt64Array.from(mask.flat().map(BigInt)), [batch, total]),
      position_ids: new this.ort.Tensor('int64', BigInt64Array.from(mask.flatMap((m) => positionIds(m, seq))), [
        batch,
        seq,
      ]),
    };
    const out = await this.session.run(feeds);
    const vocab = this.shape.vocabSize;
    const all = out.logits!.data as Float32Array; // [b, seq, vocab]
    const last = new Float32Array(batch * vocab);
    for (let b = 0; b < batch; b++)
      last.set(all.subarray((b * seq + seq - 1) * vocab, (b * seq + seq) * vocab), b * vocab);
    if (this.useCache) {
      const next: Record<string, OnnxTensor> = {};
      for (let i = 0; i < this.shape.numLayers; i++) {
        next[`past_key_values.${i}.key`] = out[`present.${i}.key`]!;
        next[`past_key_values.${i}.value`] = out[`present.${i}.value`]!;
      }
      this.past = next;
    }
    return last;
  }

  dispose(): void {
    this.past = null;
  }
}

/**
 * An exported decoder on ONNX Runtime. Build it with `loadOnnxGenerator` (or `onnxCausalLMFor`).
 *
 * @example
 * const gen = await loadOnnxGenerator('runs/generator');
 * const { texts } = await generate(gen.model, ids, { tokenizer: gen.tokenizer, maxNewTokens: 20 });
 */
export class OnnxCausalLM implements IncrementalLM {
  readonly runtime = 'onnx' as const;
  readonly maxPositions = null;

  constructor(
    private readonly ort: OnnxRuntime,
    private readonly session: OnnxSession,
    private readonly shape: DecoderShape,
    /** Intra-op threads of the session. */
    readonly threads: number,
  ) {}

  get modelType(): CausalLMType {
    return this.shape.modelType;
  }
  get vocabSize(): number {
    return this.shape.vocabSize;
  }
  get numLayers(): number {
    return this.shape.numLayers;
  }
  get specialTokens(): SpecialTokens {
    return this.shape.specialTokens;
  }

  stepper(useCache: boolean): TokenStepper {
    return new OrtStepper(this.ort, this.session, this.shape, useCache);
  }

  dispose(): void {
    void this.session.release();
  }
}

/** How a model type is exported: its exporter id, graph builder and cache shape. */
interface DecoderExport {
  exporter: string;
  build: (weights: Map<string, HostTensor>) => Uint8Array;
  kvHeads: number;
  headDim: number;
}

/**
 * Why `model` cannot be exported to ONNX, or null when it can: the exporters implement the
 * configurations the tfjs models of this branch run (no rope_scaling, head_dim = hidden/heads).
 */
export function onnxExportUnsupported(model: CausalLM): string | null {
  const c = (model as unknown as { config?: Record<string, unknown> }).config ?? {};
  if (!['llama', 'qwen2', 'gpt2'].includes(model.modelType))
    return `model_type "${model.modelType}" has no ONNX exporter (supported: llama, qwen2, gpt2)`;
  if (c.rope_scaling !== undefined && c.rope_scaling !== null)
    return `"rope_scaling" ${JSON.stringify(c.rope_scaling)} is not implemented by the ONNX exporter`;
  if (
    typeof c.head_dim === 'number' &&
    typeof c.hidden_size === 'number' &&
    typeof c.num_attention_heads === 'number' &&
    c.head_dim !== c.hidden_size / c.num_attention_heads
  ) {
    return `"head_dim" ${c.head_dim} other than hidden_size/num_attention_heads is not implemented by the ONNX exporter`;
  }
  return null;
}

function decoderExport(model: CausalLM): DecoderExport {
  const unsupported = onnxExportUnsupported(model);
  if (unsupported) throw new Error(`ONNX export: ${unsupported}; use --runtime tfjs`);
  if (model.modelType === 'gpt2') {
    const c = (model as unknown as { config: Gpt2Config }).config;
    return {
      exporter: GPT2_ONNX_EXPORTER,
      build: (w) => gpt2OnnxModel(c, w),
      kvHeads: c.n_head,
      headDim: c.n_embd / c.n_head,
    };
  }
  const c = (model as unknown as { config: LlamaConfig }).config;
  return {
    exporter: LLAMA_ONNX_EXPORTER,
    build: (w) => llamaOnnxModel(c, w),
    kvHeads: c.num_key_value_heads,
    headDim: c.hidden_size / c.num_attention_heads,
  };
}

/** The ONNX model bytes of a CausalLM (Llama, Qwen2, GPT-2; LoRA merged into `model` first). */
export async function causalLMOnnxBytes(
  model: CausalLM,
): Promise<{ bytes: Uint8Array; weights: Map<string, HostTensor>; exporter: string }> {
  const ex = decoderExport(model);
  const weights = await mergedDecoderWeights(model);
  return { bytes: ex.build(weights), weights, exporter: ex.exporter };
}

/** An OnnxCausalLM running `modelFile` (an export of `model`). */
export async function onnxCausalLMFor(
  model: CausalLM,
  modelFile: string | Uint8Array,
  threads?: number,
): Promise<OnnxCausalLM> {
  const ex = decoderExport(model);
  const { session, threads: n, ort } = await createOnnxSession(modelFile, { threads });
  const shape: DecoderShape = {
    modelType: model.modelType,
    vocabSize: model.vocabSize,
    numLayers: model.numLayers,
    kvHeads: ex.kvHeads,
    headDim: ex.headDim,
    specialTokens: model.specialTokens,
  };
  return new OnnxCausalLM(ort, session, shape, n);
}

/**
 * The ONNX model of a loaded generator, exported on first use into `<dir>/onnx/model.onnx` (merged
 * LoRA included) and reused while the merged weights are unchanged; see core's ensureOnnxExport
 * for where it goes when the directory is read-only or holds someone else's model.onnx.
 */
export async function ensureCausalLMOnnx(
  dir: string,
  model: CausalLM,
): Promise<{ modelFile: string; exported: boolean }> {
  const ex = decoderExport(model);
  const weights = await mergedDecoderWeights(model);
  return ensureOnnxExport({
    modelDir: dir,
    exporter: ex.exporter,
    weightsSha256: weightsHash(weights),
    build: () => ex.build(weights),
  });
}

/** A generator for inference on either runtime. */
export interface InferenceGenerator {
  model: CausalLM | OnnxCausalLM;
  tokenizer: Tokenizer;
  format: PromptFormat;
}

/** Exports an already loaded generator and opens it on ONNX Runtime; the tfjs model is disposed. */
async function onnxFromLoaded(
  dir: string,
  gen: LoadedGenerator,
  threads?: number,
): Promise<InferenceGenerator & { model: OnnxCausalLM }> {
  try {
    const { modelFile } = await ensureCausalLMOnnx(dir, gen.model);
    return {
      model: await onnxCausalLMFor(gen.model, modelFile, threads),
      tokenizer: gen.tokenizer,
      format: gen.format,
    };
  } finally {
    gen.model.dispose();
  }
}

/**
 * Loads a generator directory (full model or LoRA adapter) onto ONNX Runtime: read as
 * `loadGenerator` reads it, LoRA merged, exported on first use (ensureCausalLMOnnx), tfjs weights
 * released.
 *
 * @example
 * const gen = await loadOnnxGenerator('runs/generator', { threads: 4 });
 */
export async function loadOnnxGenerator(
  dir: string,
  opts: { threads?: number } = {},
): Promise<InferenceGenerator & { model: OnnxCausalLM }> {
  return onnxFromLoaded(dir, await loadGenerator(dir), opts.threads);
}

/**
 * Loads a generator for `ask`/`eval`: on ONNX Runtime for `runtime` 'onnx', or 'auto' when
 * onnxruntime-node is installed and the model exports (onnxExportUnsupported); else on tfjs
 * (`loadGenerator`).
 */
export async function loadInferenceGenerator(
  dir: string,
  opts: { runtime?: InferenceRuntimeChoice; threads?: number } = {},
): Promise<InferenceGenerator> {
  const choice = opts.runtime ?? 'auto';
  if ((await resolveInferenceRuntime(choice)) === 'tfjs') return loadGenerator(dir);
  const gen = await loadGenerator(dir);
  if (choice === 'auto' && onnxExportUnsupported(gen.model) !== null) return gen; // stays on tfjs
  return onnxFromLoaded(dir, gen, opts.threads);
}

/**
 * Writes a transformers.js text-generation directory for a loaded generator (atomically, replacing
 * `outDir`): `onnx/model.onnx` (LoRA merged), `config.json`, `generation_config.json`, tokenizer files.
 *
 * @example
 * const gen = await loadGenerator('runs/generator');
 * await exportCausalLMOnnx(gen.model, gen.tokenizer, 'runs/generator-onnx');
 */
export async function exportCausalLMOnnx(
  model: CausalLM,
  tokenizer: Tokenizer,
  outDir: string,
): Promise<{ dir: string; modelFile: string; bytes: number }> {
  const { bytes } = await causalLMOnnxBytes(model);
  const files: Record<string, string> = {
    'config.json': JSON.stringify(model.configJson(), null, 2) + '\n',
    'generation_config.json': JSON.stringify(generationConfigJson(model), null, 2) + '\n',
    ...tokenizer.toFiles(),
  };
  await atomicWriteDir(outDir, async (tmp) => {
    for (const [name, text] of Object.entries(files)) await fsp.writeFile(path.join(tmp, name), text);
    await fsp.mkdir(path.join(tmp, ONNX_EXPORT_DIR));
    await fsp.writeFile(path.join(tmp, ONNX_EXPORT_DIR, ONNX_EXPORT_MODEL_FILE), bytes);
  });
  return {
    dir: outDir,
    modelFile: path.join(outDir, ONNX_EXPORT_DIR, ONNX_EXPORT_MODEL_FILE),
    bytes: bytes.byteLength,
  };
}
