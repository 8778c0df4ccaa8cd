/**
 * The parts every exported decoder shares (llama-onnx.ts, gpt2-onnx.ts): the graph inputs and
 * outputs in the names transformers.js uses for text generation, the causal + padding bias, the
 * key/value cache concatenation and a tied LM head.
 */
import { MASKED, OnnxDataType, onnxLayers as L, type HostTensor, type OnnxGraph } from '@dalm/core';

/** Cache shape of one exported decoder. */
export interface DecoderGraphShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

export interface DecoderGraphInputs {
  inputIds: string;
  mask: string;
  positionIds: string;
  past: { k: string; v: string }[];
}

/** input_ids, attention_mask, position_ids (int64) and past_key_values.N.key/value (float32 [b, kv, past, d]). */
export function decoderGraphInputs(g: OnnxGraph, s: DecoderGraphShape): DecoderGraphInputs {
  const inputIds = g.input('input_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', OnnxDataType.INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', OnnxDataType.INT64, ['batch_size', 'sequence_length']);
  const past: { k: string; v: string }[] = [];
  for (let i = 0; i < s.layers; i++) {
    const dims = ['batch_size', s.kvHeads, 'past_sequence_length', s.headDim];
    past.push({
      k: g.input(`past_key_values.${i}.key`, OnnxDataType.FLOAT, dims),
      v: g.input(`past_key_values.${i}.value`, OnnxDataType.FLOAT, dims),
    });
  }
  return { inputIds, mask, positionIds, past };
}

/** Causal + padding bias [b, 1, s, total] (as causal-lm.ts' decoderBias): query i, at past + i, sees keys 0..past + i. */
export function decoderAttentionBias(g: OnnxGraph, inputIds: string, mask: string): string {
  const seqLen = g.op('Gather', [g.op('Shape', [inputIds]), g.int64(1)], { axis: { int: 0 } });
  const total = g.op('Gather', [g.op('Shape', [mask]), g.int64(1)], { axis: { int: 0 } });
  const pastLen = g.op('Sub', [total, seqLen]);
  const qPos = g.op('Unsqueeze', [g.op('Range', [pastLen, total, g.int64(1)]), g.int64([1])]); // [s, 1]
  const kPos = g.op('Unsqueeze', [g.op('Range', [g.int64(0), total, g.int64(1)]), g.int64([0])]); // [1, total]
  const causal = g.op('Mul', [
    g.op('Cast', [g.op('Greater', [kPos, qPos])], { to: { int: OnnxDataType.FLOAT } }),
    g.float(MASKED),
  ]); // [s, total]
  return g.op('Add', [g.op('Unsqueeze', [causal, g.int64([0, 1])]), L.paddingBias(g, mask)]); // [b, 1, s, total]
}

/** Appends this step's keys/values to layer `i`'s past; the results are the graph's present.i.key/value. */
export function appendKv(
  g: OnnxGraph,
  past: { k: string; v: string },
  kNew: string,
  vNew: string,
  i: number,
): { k: string; v: string } {
  return {
    k: g.op('Concat', [past.k, kNew], { axis: { int: 2 } }, `present.${i}.key`), // [b, kv, total, d]
    v: g.op('Concat', [past.v, vNew], { axis: { int: 2 } }, `present.${i}.value`),
  };
}

/** logits = h · Eᵀ for the embedding `name` ([vocab, hidden]), with Eᵀ stored once. */
export function tiedLmHead(g: OnnxGraph, h: string, weights: Map<string, HostTensor>, name: string): string {
  const e = L.stateTensor(weights, name);
  const et = g.initializer('lm_head.tied.weight', L.transpose2d(e.data, e.shape[0]!, e.shape[1]!), [
    e.shape[1]!,
    e.shape[0]!,
  ]);
  return g.op('MatMul', [h, et], {}, 'logits');
}

/** Declares logits [b, s, vocab] and present.N.key/value [b, kv, total, d] as the graph outputs. */
export function decoderGraphOutputs(g: OnnxGraph, logits: string, s: DecoderGraphShape): void {
  g.output(logits, OnnxDataType.FLOAT, ['batch_size', 'sequence_length', s.vocab]);
  for (let i = 0; i < s.layers; i++) {
    const dims = ['batch_size', s.kvHeads, 'total_sequence_length', s.headDim];
    g.output(`present.${i}.key`, OnnxDataType.FLOAT, dims);
    g.output(`present.${i}.value`, OnnxDataType.FLOAT, dims);
  }
}
