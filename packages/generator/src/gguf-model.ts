/**
 * Llama-family GGUF files (what llama.cpp and Ollama users have) as a `LlamaForCausalLM`: the
 * `llama.*` metadata becomes the HF config, the `blk.N.*` tensors are dequantised to float32 one at a
 * time and renamed to HF's names, and the rows of attn_q / attn_k are put back in HF order:
 * llama.cpp's converter interleaves the two rotary halves of each head (row h·d + 2i + j holds HF
 * row h·d + j·d/2 + i), which transformers' GGUF loader undoes the same way.
 */
import { ggufMeta, readGgufHeader, readGgufTensors, type GgufHeader, type GgufValue } from '@dalm/core';
import { validateLlamaConfig, type LlamaConfig } from './llama-config';
import { LlamaForCausalLM } from './llama';

/** Whether `p` names a GGUF file (by its extension). */
export function isGgufPath(p: string): boolean {
  return /\.gguf$/i.test(p);
}

const LAYER_TENSORS: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

const GLOBAL_TENSORS: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};

/** The HF parameter name of a llama GGUF tensor; throws naming the tensor when it has none. */
export function ggufLlamaParamName(name: string, source: string): string {
  const global = GLOBAL_TENSORS[name];
  if (global) return global;
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(name);
  const hf = m ? LAYER_TENSORS[m[2]] : undefined;
  if (m && hf) return `model.layers.${m[1]}.${hf}.${m[3]}`;
  if (name === 'rope_freqs.weight') {
    throw new Error(
      `${source}: tensor "rope_freqs.weight" (per-frequency RoPE factors, e.g. Llama 3.1 rope scaling) is not supported in GGUF files; load the HF checkpoint, whose config.json "rope_scaling" is supported`,
    );
  }
  throw new Error(
    `${source}: tensor "${name}" has no counterpart in a Llama decoder (expected token_embd, blk.N.{${Object.keys(LAYER_TENSORS).join(',')}}, output_norm, output)`,
  );
}

/**
 * Undoes llama.cpp's rotary row permutation of a q or k projection ([heads·headDim, in], row-major):
 * HF row h·d + j·d/2 + i ← GGUF row h·d + 2i + j.
 */
export function unpermuteRotaryRows(data: Float32Array, heads: number, rows: number, cols: number): Float32Array {
  const d = rows / heads;
  const half = d / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * d + 2 * i + j) * cols;
        const dst = (h * d + j * half + i) * cols;
        out.set(data.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

const num = (h: GgufHeader, key: string, source: string) => ggufMeta(h, key, 'number', source);
const optNum = (h: GgufHeader, key: string): number | undefined => {
  const v = h.metadata.get(key);
  return typeof v === 'number' ? v : undefined;
};

/** The HF `LlamaConfig` a llama GGUF header describes (`llama.*` and `tokenizer.ggml.*` keys). */
export function ggufLlamaConfig(h: GgufHeader, source: string): LlamaConfig {
  const arch = ggufMeta(h, 'general.architecture', 'string', source);
  if (arch !== 'llama') throw new Error(`${source}: GGUF architecture "${arch}" is not supported (only llama)`);
  const embd = h.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embd) throw new Error(`${source}: no token_embd.weight tensor`);
  const hidden = num(h, 'llama.embedding_length', source);
  const heads = num(h, 'llama.attention.head_count', source);
  const ropeDim = optNum(h, 'llama.rope.dimension_count');
  if (ropeDim !== undefined && ropeDim !== hidden / heads) {
    throw new Error(
      `${source}: llama.rope.dimension_count ${ropeDim} differs from the head size ${hidden / heads}; partial rotary is not supported`,
    );
  }
  const scalingType = h.metadata.get('llama.rope.scaling.type');
  let rope_scaling: Record<string, unknown> | null = null;
  if (scalingType !== undefined && scalingType !== 'none') {
    if (scalingType !== 'linear')
      throw new Error(`${source}: llama.rope.scaling.type "${String(scalingType)}" is not supported (none, linear)`);
    rope_scaling = { rope_type: 'linear', factor: num(h, 'llama.rope.scaling.factor', source) };
  }
  const id = (key: string): number | null => optNum(h, key) ?? null;
  return validateLlamaConfig(
    {
      model_type: 'llama',
      vocab_size: embd.shape[0],
      hidden_size: hidden,
      intermediate_size: num(h, 'llama.feed_forward_length', source),
      num_hidden_layers: num(h, 'llama.block_count', source),
      num_attention_heads: heads,
      num_key_value_heads: optNum(h, 'llama.attention.head_count_kv') ?? heads,
      max_position_embeddings: num(h, 'llama.context_length', source),
      rms_norm_eps: num(h, 'llama.attention.layer_norm_rms_epsilon', source),
      rope_theta: optNum(h, 'llama.rope.freq_base') ?? 10000,
      rope_scaling,
      tie_word_embeddings: !h.tensors.some((t) => t.name === 'output.weight'),
      attention_bias: h.tensors.some((t) => /^blk\.\d+\.attn_q\.bias$/.test(t.name)),
      bos_token_id: id('tokenizer.ggml.bos_token_id'),
      eos_token_id: id('tokenizer.ggml.eos_token_id'),
      pad_token_id: id('tokenizer.ggml.padding_token_id'),
    },
    source,
  );
}

/**
 * Loads a llama-family GGUF file as a float32 `LlamaForCausalLM` (F32/F16/BF16/Q8_0/Q4_0/Q4_1
 * tensors are dequantised on load, one tensor at a time). Returns the header too, for the tokenizer
 * and the chat template.
 *
 * @example
 * const { model } = await loadGgufCausalLM('SmolLM2-135M-Instruct.Q4_1.gguf');
 */
export async function loadGgufCausalLM(file: string): Promise<{ model: LlamaForCausalLM; header: GgufHeader }> {
  const header = await readGgufHeader(file);
  const config = ggufLlamaConfig(header, file);
  const model = new LlamaForCausalLM(config, 0);
  try {
    const loaded = new Set<string>();
    await readGgufTensors(
      file,
      (info, data) => {
        const name = ggufLlamaParamName(info.name, file);
        let values = data;
        if (/\.attn_[qk]\.(weight|bias)$/.test(info.name)) {
          const heads = info.name.includes('.attn_q.') ? config.num_attention_heads : config.num_key_value_heads;
          const cols = info.shape.length === 2 ? info.shape[1] : 1;
          values = unpermuteRotaryRows(data, heads, info.shape[0], cols);
        }
        model.params.loadHost(new Map([[name, { shape: info.shape, data: values }]]), {
          strict: false,
          source: `${file}: tensor "${info.name}"`,
        });
        loaded.add(name);
      },
      header,
    );
    const missing = model.params.names().filter((n) => !loaded.has(n));
    if (missing.length)
      throw new Error(
        `${file}: missing tensors for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''}`,
      );
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, header };
}

/** A string metadata value, or undefined. */
export function ggufString(h: GgufHeader, key: string): string | undefined {
  const v: GgufValue | undefined = h.metadata.get(key);
  return typeof v === 'string' ? v : undefined;
}
