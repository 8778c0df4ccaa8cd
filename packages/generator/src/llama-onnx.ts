/**
 * ONNX export of `LlamaForCausalLM` / `Qwen2ForCausalLM` with a key/value cache, in the layout
 * transformers.js (and optimum) use for text generation:
 *
 *   inputs   input_ids        int64 [batch_size, sequence_length]
 *            attention_mask   int64 [batch_size, past_sequence_length + sequence_length]
 *            position_ids     int64 [batch_size, sequence_length]
 *            past_key_values.N.key / .value   float32 [batch_size, kv_heads, past_sequence_length, head_dim]
 *   outputs  logits           float32 [batch_size, sequence_length, vocab]
 *            present.N.key / .value           float32 [batch_size, kv_heads, total_sequence_length, head_dim]
 *
 * Built op for op as llama.ts computes (RMSNorm, rotate-half RoPE, grouped-query attention with an
 * additive causal + padding bias, SwiGLU), from the HF-named weights. LoRA updates are merged into
 * the weights first (mergedDecoderWeights), so the export is a plain model.
 */
import { OnnxDataType, OnnxGraph, onnxLayers as L, type HostTensor } from '@dalm/core';
import type { CausalLM } from './causal-lm';
import type { LlamaConfig } from './llama-config';
import { mergeLora } from './lora';
import { appendKv, decoderAttentionBias, decoderGraphInputs, decoderGraphOutputs, tiedLmHead } from './decoder-onnx';

/** Bumped when the exported decoder graph changes. */
export const LLAMA_ONNX_EXPORTER = 'dalm-ts/llama-onnx@1';

/**
 * The model's weights for export (HF names, on-disk layout) with every LoRA update folded into its
 * base weight first (`mergeLora`: W += (alpha/r)·A·B, outputs unchanged, so this changes `model`'s
 * weights but not what it computes); the LoRA matrices themselves are left out.
 */
export async function mergedDecoderWeights(model: CausalLM): Promise<Map<string, HostTensor>> {
  mergeLora(model);
  return model.params.toHostAsync((name) => !name.includes('.lora_'));
}

/** [b, h, s, d] rotated by the cos/sin tables [b, 1, s, d] (HF rotate_half). */
function rotary(g: OnnxGraph, x: string, cos: string, sin: string, headDim: number): string {
  const half = headDim / 2;
  const x1 = g.op('Slice', [x, g.int64([0]), g.int64([half]), g.int64([3])]);
  const x2 = g.op('Slice', [x, g.int64([half]), g.int64([headDim]), g.int64([3])]);
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: { int: -1 } });
  return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
}

/**
 * The ONNX model (bytes) of a Llama/Qwen2 decoder with `config` and merged HF-named weights.
 *
 * @example
 * const bytes = llamaOnnxModel(model.config, await mergedDecoderWeights(model));
 */
export function llamaOnnxModel(config: LlamaConfig, weights: Map<string, HostTensor>): Uint8Array {
  const c = config;
  const heads = c.num_attention_heads;
  const kvHeads = c.num_key_value_heads;
  const headDim = c.hidden_size / heads;
  const shape = { layers: c.num_hidden_layers, kvHeads, headDim, vocab: c.vocab_size };
  const g = new OnnxGraph();
  const { inputIds, mask, positionIds, past } = decoderGraphInputs(g, shape);

  // Rotary tables from the positions: [b, 1, s, d].
  const invFreq = new Float32Array(headDim / 2);
  for (let i = 0; i < invFreq.length; i++) invFreq[i] = 1 / c.rope_theta ** ((2 * i) / headDim);
  const pos = g.op('Unsqueeze', [g.op('Cast', [positionIds], { to: { int: OnnxDataType.FLOAT } }), g.int64([2])]); // [b, s, 1]
  const freqs = g.op('Mul', [pos, g.initializer('rotary.inv_freq', invFreq, [invFreq.length])]); // [b, s, d/2]
  const emb = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: { int: -1 } }), g.int64([1])]); // [b, 1, s, d]
  const cos = g.op('Cos', [emb]);
  const sin = g.op('Sin', [emb]);
  const bias = decoderAttentionBias(g, inputIds, mask); // [b, 1, s, total]

  let h = g.op('Gather', [L.weightInitializer(g, weights, 'model.embed_tokens.weight'), inputIds], {
    axis: { int: 0 },
  }); // [b, s, hidden]
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    const x = L.rmsNorm(g, h, weights, `${p}.input_layernorm`, c.rms_norm_eps);
    const q = rotary(
      g,
      L.splitHeads(g, L.linear(g, x, weights, `${p}.self_attn.q_proj`), heads, headDim),
      cos,
      sin,
      headDim,
    ); // [b, heads, s, d]
    const kNew = rotary(
      g,
      L.splitHeads(g, L.linear(g, x, weights, `${p}.self_attn.k_proj`), kvHeads, headDim),
      cos,
      sin,
      headDim,
    ); // [b, kv, s, d]
    const vNew = L.splitHeads(g, L.linear(g, x, weights, `${p}.self_attn.v_proj`), kvHeads, headDim);
    const { k, v } = appendKv(g, past[i]!, kNew, vNew, i); // [b, kv, total, d]
    const groups = heads / kvHeads;
    const ctx = L.attention(
      g,
      q,
      L.repeatKv(g, k, kvHeads, groups, headDim),
      L.repeatKv(g, v, kvHeads, groups, headDim),
      bias,
      1 / Math.sqrt(headDim),
    );
    h = g.op('Add', [h, L.linear(g, L.mergeHeads(g, ctx, c.hidden_size), weights, `${p}.self_attn.o_proj`)]);
    const y = L.rmsNorm(g, h, weights, `${p}.post_attention_layernorm`, c.rms_norm_eps);
    const gate = L.activation(g, L.linear(g, y, weights, `${p}.mlp.gate_proj`), c.hidden_act);
    const up = L.linear(g, y, weights, `${p}.mlp.up_proj`);
    h = g.op('Add', [h, L.linear(g, g.op('Mul', [gate, up]), weights, `${p}.mlp.down_proj`)]);
  }
  h = L.rmsNorm(g, h, weights, 'model.norm', c.rms_norm_eps);
  const logits =
    c.tie_word_embeddings || !weights.has('lm_head.weight')
      ? tiedLmHead(g, h, weights, 'model.embed_tokens.weight')
      : g.op('Identity', [L.linear(g, h, weights, 'lm_head')], {}, 'logits');
  decoderGraphOutputs(g, logits, shape);
  return g.toModel({ metadata: { exporter: LLAMA_ONNX_EXPORTER } });
}
