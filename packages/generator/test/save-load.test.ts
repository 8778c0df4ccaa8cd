/** createCausalLM / saveCausalLM / loadCausalLM: round trips give identical logits and HF-shaped files. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors, writeSafetensors, loadTokenizer } from '@dalm/core';
import {
  createCausalLM,
  loadCausalLM,
  saveCausalLM,
  generate,
  validateLlamaConfig,
  validateGpt2Config,
  SMALL_LLAMA_CONFIG,
  type CausalLM,
} from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(path.resolve(repoRoot, '../shared'), 'fixtures/hf-tiny');

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dalm-gen-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const IDS = [[1, 45, 74, 125, 131, 6, 5, 57, 77, 78]];

function logitsOf(model: CausalLM): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d(IDS, undefined, 'int32')).logits.dataSync() as Float32Array);
}

describe('config validation', () => {
  it('fills defaults and names the bad field', () => {
    const c = validateLlamaConfig({
      model_type: 'qwen2',
      vocab_size: 10,
      hidden_size: 8,
      num_attention_heads: 2,
      intermediate_size: 16,
      num_hidden_layers: 1,
    });
    expect(c.num_key_value_heads).toBe(2);
    expect(c.attention_bias).toBe(true); // qwen2 always has q/k/v biases
    expect(c.rms_norm_eps).toBe(1e-6);
    expect(() => validateLlamaConfig({ hidden_size: 30, num_attention_heads: 4 })).toThrow(
      /"hidden_size" \(30\) must be divisible/,
    );
    expect(() => validateLlamaConfig({ num_attention_heads: 32, num_key_value_heads: 5 })).toThrow(
      /num_key_value_heads/,
    );
    expect(() => validateLlamaConfig({ hidden_act: 'tanh' })).toThrow(/"hidden_act" must be one of silu/);
    expect(() => validateLlamaConfig({ rope_scaling: { type: 'dynamic', factor: 2 } })).toThrow(
      /rope_scaling" type "dynamic" is not supported/,
    );
    expect(() => validateLlamaConfig({ rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(
      /"yarn" is not supported \(supported: default, linear, llama3\)/,
    );
    expect(() => validateLlamaConfig({ rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(
      /rope_scaling.low_freq_factor/,
    );
    expect(validateLlamaConfig({ rope_scaling: { type: 'linear', factor: 2 } }).rope_scaling).toEqual({
      rope_type: 'linear',
      factor: 2,
    });
    expect(() => validateGpt2Config({ n_embd: 10, n_head: 4 })).toThrow(/"n_embd" \(10\)/);
    expect(() => createCausalLM({ model_type: 'bert' })).toThrow(
      /"model_type" must be one of llama, qwen2, gpt2; got "bert"/,
    );
  });
});

describe('from scratch', () => {
  it('creates a tied small Llama, saves it as HF does and loads identical logits', async () => {
    const config = {
      ...SMALL_LLAMA_CONFIG,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      vocab_size: 136,
      pad_token_id: 0,
    };
    const model = createCausalLM(config, 42);
    expect(model.params.has('lm_head.weight')).toBe(false);
    // HF zero-initialises the padding row.
    expect(
      tf.tidy(
        () => tf.sum(tf.abs(tf.slice(model.params.get('model.embed_tokens.weight'), [0, 0], [1, 32]))).dataSync()[0],
      ),
    ).toBe(0);
    // Same seed, same weights; another seed, other weights.
    const again = createCausalLM(config, 42);
    const other = createCausalLM(config, 43);
    expect(logitsOf(again)).toEqual(logitsOf(model));
    expect(logitsOf(other)).not.toEqual(logitsOf(model));
    again.dispose();
    other.dispose();

    const dir = path.join(tmp, 'scratch');
    await saveCausalLM(model, dir, { generationConfig: { max_new_tokens: 64 } });
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      tie_word_embeddings: true,
      num_key_value_heads: 2,
    });
    const gen = JSON.parse(readFileSync(path.join(dir, 'generation_config.json'), 'utf8'));
    expect(gen).toEqual({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, max_new_tokens: 64 });
    const tensors = await readSafetensors(path.join(dir, 'model.safetensors'));
    expect(tensors.has('lm_head.weight')).toBe(false);
    expect(tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([16, 32]); // [out, in]
    const loaded = await loadCausalLM(dir);
    expect(logitsOf(loaded)).toEqual(logitsOf(model));
    loaded.dispose();
    model.dispose();
  });
});

describe.skipIf(!existsSync(fixtures))('save → load of the hf-tiny decoders', () => {
  for (const name of ['llama-tiny', 'qwen2-tiny', 'gpt2-tiny']) {
    it(`${name}: identical logits and generation, the same tensor set as the HF file, tokenizer files alongside`, async () => {
      const src = path.join(fixtures, name);
      const model = await loadCausalLM(src);
      const tok = await loadTokenizer(src);
      const dir = path.join(tmp, name);
      await saveCausalLM(model, dir, { tokenizer: tok });
      const loaded = await loadCausalLM(dir);
      expect(logitsOf(loaded)).toEqual(logitsOf(model));
      const a = await generate(model, IDS[0], { maxNewTokens: 5 });
      const b = await generate(loaded, IDS[0], { maxNewTokens: 5 });
      expect(b.newTokens).toEqual(a.newTokens);
      // Same names and shapes as save_pretrained wrote (gpt2: no lm_head.weight; Conv1D kept [in, out]).
      const ours = await readSafetensors(path.join(dir, 'model.safetensors'));
      const theirs = await readSafetensors(path.join(src, 'model.safetensors'));
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [k, t] of theirs) {
        expect(ours.get(k)!.shape).toEqual(t.shape);
        expect(ours.get(k)!.data).toEqual(t.data);
      }
      const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
      const ref = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8'));
      for (const key of ['model_type', 'architectures', 'vocab_size', 'bos_token_id', 'eos_token_id', 'pad_token_id'])
        expect(cfg[key]).toEqual(ref[key]);
      expect(readdirSync(dir).sort()).toEqual([
        'config.json',
        'generation_config.json',
        'model.safetensors',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ]);
      expect((await loadTokenizer(dir)).encode('Hello world!', { addSpecialTokens: false })).toEqual(
        tok.encode('Hello world!', { addSpecialTokens: false }),
      );
      model.dispose();
      loaded.dispose();
    });
  }

  it('loads a GPT-2 checkpoint saved without the transformer. prefix and with old mask buffers', async () => {
    const theirs = await readSafetensors(path.join(fixtures, 'gpt2-tiny/model.safetensors'));
    const renamed = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, t] of theirs)
      renamed.set(k.replace(/^transformer\./, ''), { shape: t.shape, data: t.data as Float32Array });
    renamed.set('h.0.attn.bias', { shape: [1, 1, 2, 2], data: new Float32Array([1, 0, 1, 1]) });
    const dir = path.join(tmp, 'gpt2-bare');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(fixtures, 'gpt2-tiny/config.json')));
    await writeSafetensors(path.join(dir, 'model.safetensors'), renamed);
    const a = await loadCausalLM(dir);
    const b = await loadCausalLM(path.join(fixtures, 'gpt2-tiny'));
    expect(logitsOf(a)).toEqual(logitsOf(b));
    a.dispose();
    b.dispose();
  });

  it('a missing tensor is an error naming the file and the tensor', async () => {
    const theirs = await readSafetensors(path.join(fixtures, 'llama-tiny/model.safetensors'));
    const partial = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, t] of theirs)
      if (k !== 'model.norm.weight') partial.set(k, { shape: t.shape, data: t.data as Float32Array });
    const dir = path.join(tmp, 'llama-partial');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(fixtures, 'llama-tiny/config.json')));
    await writeSafetensors(path.join(dir, 'model.safetensors'), partial);
    await expect(loadCausalLM(dir)).rejects.toThrow(/model\.safetensors: missing tensors model\.norm\.weight/);
  });
});
