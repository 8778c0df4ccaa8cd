/**
 * ONNX export of the BERT encoder: the graph of HF's `BertModel` without pooler, as
 * transformers.js and optimum export it —
 *
 *   inputs   input_ids, attention_mask, token_type_ids   int64 [batch_size, sequence_length]
 *   output   last_hidden_state                           float32 [batch_size, sequence_length, hidden]
 *
 * built from the framework's own weights with core's ONNX layers (op for op the tfjs forward pass
 * of bert.ts), and the directory layout transformers.js loads unchanged: `onnx/model.onnx`,
 * `config.json`, the tokenizer files and the sentence-transformers module files (pooling,
 * normalisation, prompts).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  ONNX_EXPORT_DIR,
  ONNX_EXPORT_MODEL_FILE,
  ONNX_EXPORT_RECORD_FILE,
  OnnxDataType,
  OnnxGraph,
  atomicWriteDir,
  ensureOnnxExport,
  onnxLayers as L,
  weightsHash,
  type HostTensor,
} from '@dalm/core';
import { bertConfigToJson, type BertConfig } from './bert-config';
import type { Encoder } from './encoder';
import { sentenceTransformersFiles } from './sentence-transformers';

/** Where transformers.js looks for the fp32 model inside a model directory. */
export const ONNX_DIR = ONNX_EXPORT_DIR;
export const ONNX_MODEL_FILE = ONNX_EXPORT_MODEL_FILE;
/** Written beside an export made on first use: which weights it came from. */
export const ONNX_EXPORT_RECORD = ONNX_EXPORT_RECORD_FILE;
/** Bumped when the exported graph changes, so older exports are redone. */
export const BERT_ONNX_EXPORTER = 'dalm-ts/bert-onnx@2';

/**
 * The ONNX model (bytes) of a BERT encoder with `config` and HF-named weights in the on-disk
 * layout (`bertStateDict` names; a pooler, if present, is left out).
 *
 * @example
 * const bytes = bertOnnxModel(enc.config, await enc.params.toHostAsync());
 */
export function bertOnnxModel(config: BertConfig, weights: Map<string, HostTensor>): Uint8Array {
  const c = config;
  const g = new OnnxGraph();
  const dims = ['batch_size', 'sequence_length'];
  const inputIds = g.input('input_ids', OnnxDataType.INT64, dims);
  const mask = g.input('attention_mask', OnnxDataType.INT64, dims);
  const types = g.input('token_type_ids', OnnxDataType.INT64, dims);

  const word = g.op('Gather', [L.weightInitializer(g, weights, 'embeddings.word_embeddings.weight'), inputIds], {
    axis: { int: 0 },
  }); // [b, s, h]
  const type = g.op('Gather', [L.weightInitializer(g, weights, 'embeddings.token_type_embeddings.weight'), types], {
    axis: { int: 0 },
  }); // [b, s, h]
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), g.int64(1)], { axis: { int: 0 } }); // scalar
  const positions = g.op('Range', [g.int64(0), seqLen, g.int64(1)]); // [s]
  const pos = g.op('Gather', [L.weightInitializer(g, weights, 'embeddings.position_embeddings.weight'), positions], {
    axis: { int: 0 },
  }); // [s, h]
  let x = L.layerNorm(
    g,
    g.op('Add', [g.op('Add', [word, type]), pos]),
    weights,
    'embeddings.LayerNorm',
    c.layer_norm_eps,
  ); // [b, s, h]

  const bias = L.paddingBias(g, mask); // [b, 1, 1, s]
  const heads = c.num_attention_heads;
  const headDim = c.hidden_size / heads;
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `encoder.layer.${i}`;
    const q = L.splitHeads(g, L.linear(g, x, weights, `${p}.attention.self.query`), heads, headDim); // [b, heads, s, d]
    const k = L.splitHeads(g, L.linear(g, x, weights, `${p}.attention.self.key`), heads, headDim);
    const v = L.splitHeads(g, L.linear(g, x, weights, `${p}.attention.self.value`), heads, headDim);
    const ctx = L.mergeHeads(g, L.attention(g, q, k, v, bias, 1 / Math.sqrt(headDim)), c.hidden_size); // [b, s, h]
    const attnOut = L.linear(g, ctx, weights, `${p}.attention.output.dense`);
    const h = L.layerNorm(g, g.op('Add', [x, attnOut]), weights, `${p}.attention.output.LayerNorm`, c.layer_norm_eps);
    const up = L.activation(g, L.linear(g, h, weights, `${p}.intermediate.dense`), c.hidden_act); // [b, s, intermediate]
    const down = L.linear(g, up, weights, `${p}.output.dense`);
    x = L.layerNorm(g, g.op('Add', [h, down]), weights, `${p}.output.LayerNorm`, c.layer_norm_eps);
  }
  g.output(g.op('Identity', [x], {}, 'last_hidden_state'), OnnxDataType.FLOAT, [...dims, c.hidden_size]);
  return g.toModel({ metadata: { exporter: BERT_ONNX_EXPORTER } });
}

/** The model bytes of an encoder's current weights. */
async function encoderOnnxBytes(encoder: Encoder): Promise<Uint8Array> {
  return bertOnnxModel(encoder.config, await encoder.params.toHostAsync());
}

/**
 * Writes a transformers.js model directory for the encoder (atomically, replacing `outDir`):
 * `onnx/model.onnx`, `config.json`, tokenizer files and the sentence-transformers module files.
 *
 * @example
 * await exportEncoderOnnx(await loadEncoder('runs/retriever'), 'runs/retriever-onnx');
 * // transformers.js: await pipeline('feature-extraction', 'retriever-onnx') with env.localModelPath = 'runs'
 */
export async function exportEncoderOnnx(
  encoder: Encoder,
  outDir: string,
): Promise<{ dir: string; modelFile: string; bytes: number }> {
  const bytes = await encoderOnnxBytes(encoder);
  const files: Record<string, string> = {
    'config.json': JSON.stringify(bertConfigToJson(encoder.config), null, 2) + '\n',
    ...encoder.tokenizer.toFiles(),
    ...sentenceTransformersFiles(encoder.settings, encoder.dim),
  };
  await atomicWriteDir(outDir, async (tmp) => {
    for (const [name, text] of Object.entries(files)) {
      await fsp.mkdir(path.dirname(path.join(tmp, name)), { recursive: true });
      await fsp.writeFile(path.join(tmp, name), text);
    }
    await fsp.mkdir(path.join(tmp, ONNX_DIR), { recursive: true });
    await fsp.writeFile(path.join(tmp, ONNX_DIR, ONNX_MODEL_FILE), bytes);
  });
  return { dir: outDir, modelFile: path.join(outDir, ONNX_DIR, ONNX_MODEL_FILE), bytes: bytes.byteLength };
}

/** Where an encoder's ONNX export is, and whether it was exported by this call. */
export interface EnsuredOnnx {
  modelFile: string;
  exported: boolean;
  weightsSha256: string;
}

/**
 * The ONNX model of the encoder loaded from `modelDir`, exported on first use into
 * `<modelDir>/onnx/model.onnx` (atomically, other files in onnx/ kept) with a record of the weights'
 * SHA-256 (weightsHash: of the values, so sharded or half-precision sources work alike), so a
 * retrained model is exported again and an unchanged one
 * reuses the file. When `onnx/model.onnx` exists but was not written here (e.g. a downloaded
 * transformers.js model whose weights may differ) or the directory is read-only, the export goes
 * to the cache directory instead ($DALM_CACHE_DIR/onnx/<sha256>/), never over a file it did not write.
 */
export async function ensureEncoderOnnx(modelDir: string, encoder: Encoder): Promise<EnsuredOnnx> {
  const weights = await encoder.params.toHostAsync();
  const weightsSha256 = weightsHash(weights);
  const r = await ensureOnnxExport({
    modelDir,
    exporter: BERT_ONNX_EXPORTER,
    weightsSha256,
    build: () => bertOnnxModel(encoder.config, weights),
  });
  return { ...r, weightsSha256 };
}
