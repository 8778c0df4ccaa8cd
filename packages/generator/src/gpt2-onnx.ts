/**
 * ONNX export of `GPT2LMHeadModel` with a key/value cache, in the same input/output names as the
 * Llama export (decoder-onnx.ts; transformers.js' text-generation layout). Built op for op as
 * gpt2.ts computes: learned positions, pre-LayerNorm blocks, `c_attn` split into q|k|v, GELU MLP,
 * final LayerNorm and the LM head tied to `wte`. Conv1D weights are already [in, out].
 */
import { OnnxGraph, onnxLayers as L, type HostTensor } from '@dalm/core';
import { appendKv, decoderAttentionBias, decoderGraphInputs, decoderGraphOutputs, tiedLmHead } from './decoder-onnx';
import type { Gpt2Config } from './gpt2';

/** Bumped when the exported GPT-2 graph changes. */
export const GPT2_ONNX_EXPORTER = 'dalm-ts/gpt2-onnx@1';

/**
 * The ONNX model (bytes) of a GPT-2 decoder with `config` and HF-named weights (LoRA merged).
 *
 * @example
 * const bytes = gpt2OnnxModel(model.config, await mergedDecoderWeights(model));
 */
export function gpt2OnnxModel(config: Gpt2Config, weights: Map<string, HostTensor>): Uint8Array {
  const c = config;
  const heads = c.n_head;
  const headDim = c.n_embd / heads;
  const shape = { layers: c.n_layer, kvHeads: heads, headDim, vocab: c.vocab_size };
  const g = new OnnxGraph();
  const { inputIds, mask, positionIds, past } = decoderGraphInputs(g, shape);
  const bias = decoderAttentionBias(g, inputIds, mask); // [b, 1, s, total]
  const tok = g.op('Gather', [L.weightInitializer(g, weights, 'transformer.wte.weight'), inputIds], {
    axis: { int: 0 },
  }); // [b, s, embd]
  const pos = g.op('Gather', [L.weightInitializer(g, weights, 'transformer.wpe.weight'), positionIds], {
    axis: { int: 0 },
  }); // [b, s, embd]
  let h = g.op('Add', [tok, pos]);
  for (let i = 0; i < c.n_layer; i++) {
    const p = `transformer.h.${i}`;
    const x = L.layerNorm(g, h, weights, `${p}.ln_1`, c.layer_norm_epsilon);
    const qkv = L.linear(g, x, weights, `${p}.attn.c_attn`, { conv1d: true }); // [b, s, 3·embd]
    const [qx, kx, vx] = g.opN('Split', [qkv, g.int64([c.n_embd, c.n_embd, c.n_embd])], 3, { axis: { int: -1 } });
    const q = L.splitHeads(g, qx!, heads, headDim); // [b, heads, s, d]
    const { k, v } = appendKv(
      g,
      past[i]!,
      L.splitHeads(g, kx!, heads, headDim),
      L.splitHeads(g, vx!, heads, headDim),
      i,
    ); // [b, heads, total, d]
    let scale = c.scale_attn_weights ? 1 / Math.sqrt(headDim) : 1;
    if (c.scale_attn_by_inverse_layer_idx) scale /= i + 1;
    const ctx = L.mergeHeads(g, L.attention(g, q, k, v, bias, scale), c.n_embd);
    h = g.op('Add', [h, L.linear(g, ctx, weights, `${p}.attn.c_proj`, { conv1d: true })]);
    const y = L.layerNorm(g, h, weights, `${p}.ln_2`, c.layer_norm_epsilon);
    const up = L.activation(g, L.linear(g, y, weights, `${p}.mlp.c_fc`, { conv1d: true }), c.activation_function);
    h = g.op('Add', [h, L.linear(g, up, weights, `${p}.mlp.c_proj`, { conv1d: true })]);
  }
  h = L.layerNorm(g, h, weights, 'transformer.ln_f', c.layer_norm_epsilon);
  decoderGraphOutputs(g, tiedLmHead(g, h, weights, 'transformer.wte.weight'), shape);
  return g.toModel({ metadata: { exporter: GPT2_ONNX_EXPORTER } });
}
