/**
 * Llama/Qwen2/GPT-2 ONNX export with a KV cache, tested by running it on ONNX Runtime:
 * - logits equal HF transformers' (reference.json, computed by PyTorch) within 1e-4;
 * - greedy generation (cached and uncached, single and left-padded batches) gives HF's tokens, and
 *   tfjs's; sampled generation with a seed and a stop string gives tfjs's tokens and text;
 * - a LoRA-adapted model is exported merged: logits equal the adapted tfjs model's within 1e-4.
 * Skips when onnxruntime-node (optional) is not installed or the fixtures are missing.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createOnnxSession, loadOnnxRuntime, loadTokenizer } from '@dalm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, stream, loadCausalLM, type CausalLM } from '../src/index';
import { applyLora } from '../src/lora';
import { causalLMOnnxBytes, onnxCausalLMFor, type OnnxCausalLM } from '../src/onnx-causal-lm';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const fixtures = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny');
const ort = await loadOnnxRuntime();
if (!ort)
  console.warn(
    'onnx-causal-lm.test: skipped — onnxruntime-node is not installed (ONNXRUNTIME_NODE_INSTALL_CUDA=skip pnpm install)',
  );

interface GenCase {
  name: string;
  inputs: { input_ids: number[][]; attention_mask: number[][] };
  params: { max_new_tokens: number };
  new_tokens: number[][];
}
interface Ref {
  forward: { inputs: Record<string, number[][]>; outputs: { logits: { data: unknown; shape: number[] } } }[];
  generate: GenCase[];
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const name of ['llama-tiny', 'qwen2-tiny', 'gpt2-tiny']) {
  const dir = path.join(fixtures, name);
  describe.skipIf(!ort || !existsSync(dir))(`${name} on ONNX Runtime`, () => {
    let model: CausalLM;
    let onnx: OnnxCausalLM;
    let bytes: Uint8Array;
    let ref: Ref;
    beforeAll(async () => {
      await tf.setBackend('cpu');
      model = await loadCausalLM(dir);
      bytes = (await causalLMOnnxBytes(model)).bytes;
      onnx = await onnxCausalLMFor(model, bytes, 1);
      ref = JSON.parse(await readFile(path.join(dir, 'reference.json'), 'utf8')) as Ref;
    });
    afterAll(() => {
      model?.dispose();
      onnx?.dispose();
    });

    it("gives HF transformers' logits within 1e-4 (empty past)", async () => {
      const { session } = await createOnnxSession(bytes, { threads: 1 });
      for (const f of ref.forward) {
        const ids = f.inputs.input_ids!;
        const [b, s] = [ids.length, ids[0]!.length];
        const t = (rows: number[][]) =>
          new ort!.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);
        const mask = f.inputs.attention_mask!;
        const positions = f.inputs.position_ids ?? [ids[0]!.map((_, j) => j)]; // null in the reference: 0..s-1
        const feeds: Record<string, unknown> = {
          input_ids: t(ids),
          attention_mask: t(mask),
          position_ids: t(positions),
        };
        const c = (model as unknown as { config: Record<string, number> }).config;
        const [kvHeads, headDim] =
          name === 'gpt2-tiny'
            ? [c.n_head!, c.n_embd! / c.n_head!]
            : [c.num_key_value_heads!, c.hidden_size! / c.num_attention_heads!];
        for (let i = 0; i < model.numLayers; i++) {
          for (const kv of ['key', 'value'])
            feeds[`past_key_values.${i}.${kv}`] = new ort!.Tensor('float32', new Float32Array(0), [
              b,
              kvHeads,
              0,
              headDim,
            ]);
        }
        const out = await session.run(feeds as never);
        expect(out.logits!.dims).toEqual([b, s, model.vocabSize]);
        const got = out.logits!.data as Float32Array;
        const want = (f.outputs.logits.data as number[]).flat(3) as number[];
        expect(got.length).toBe(want.length);
        let m = 0; // compared where attention_mask is 1 (pad positions are not meaningful)
        mask.flat().forEach((on, p) => {
          if (on)
            for (let v = 0; v < model.vocabSize; v++)
              m = Math.max(m, Math.abs(got[p * model.vocabSize + v]! - want[p * model.vocabSize + v]!));
        });
        expect(m).toBeLessThan(1e-4);
      }
      await session.release();
    });

    it("generates HF's greedy tokens, cached and uncached, as tfjs does", async () => {
      expect(ref.generate.length).toBeGreaterThanOrEqual(2);
      for (const g of ref.generate) {
        const prompt = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask };
        const opts = { maxNewTokens: g.params.max_new_tokens, eosTokenId: null };
        const cached = await generate(onnx, prompt, opts);
        const uncached = await generate(onnx, prompt, { ...opts, useCache: false });
        const viaTfjs = await generate(model, prompt, opts);
        expect(cached.newTokens, g.name).toEqual(g.new_tokens);
        expect(uncached.newTokens, g.name).toEqual(g.new_tokens);
        expect(viaTfjs.newTokens, g.name).toEqual(cached.newTokens);
      }
    });

    it('samples the same tokens as tfjs for a seed, and stops on the same stop string', async () => {
      const tokenizer = await loadTokenizer(dir);
      const prompt = ref.generate[0]!.inputs.input_ids[0]!;
      const opts = {
        maxNewTokens: 16,
        temperature: 0.9,
        topK: 20,
        topP: 0.95,
        repetitionPenalty: 1.1,
        seed: 5,
        tokenizer,
      };
      const a = await generate(onnx, prompt, opts);
      const b = await generate(model, prompt, opts);
      expect(a.newTokens).toEqual(b.newTokens);
      expect(new Set(a.newTokens[0]).size).toBeGreaterThan(3); // really sampled a varied sequence
      const stopAt = a.texts![0]!.slice(3, 5);
      let streamed = '';
      const it = stream(onnx, prompt, { ...opts, stopStrings: [stopAt] });
      let r = await it.next();
      while (!r.done) {
        streamed += r.value;
        r = await it.next();
      }
      const viaTfjs = await generate(model, prompt, { ...opts, stopStrings: [stopAt] });
      expect(r.value.finishReasons[0]).toBe('stop');
      expect(streamed).toBe(viaTfjs.texts![0]);
      expect(r.value.newTokens).toEqual(viaTfjs.newTokens);
    });
  });
}

describe.skipIf(!ort || !existsSync(path.join(fixtures, 'llama-tiny')))('LoRA export', () => {
  it("exports a LoRA-adapted model merged: logits equal the adapted tfjs model's within 1e-4", async () => {
    await tf.setBackend('cpu');
    const model = await loadCausalLM(path.join(fixtures, 'llama-tiny'));
    applyLora(model, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
    for (const n of [...model.params.trainableByName().keys()].filter((k) => k.includes('lora_B'))) {
      const v = model.params.get(n);
      v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 3));
    }
    const ids = [[1, 5, 9, 17, 33, 4, 60, 2]];
    const base = await loadCausalLM(path.join(fixtures, 'llama-tiny'));
    const logitsOf = async (m: CausalLM) => {
      const t = m.forward(tf.tensor2d(ids, undefined, 'int32')).logits;
      const d = (await t.data()) as Float32Array;
      t.dispose();
      return d;
    };
    const adapted = await logitsOf(model);
    expect(maxDiff(adapted, await logitsOf(base))).toBeGreaterThan(1e-2); // the adapter changes the outputs
    const onnx = await onnxCausalLMFor(model, (await causalLMOnnxBytes(model)).bytes, 1);
    const step = onnx.stepper(false);
    const last = await step.logits(ids, [ids[0]!.map(() => 1)]);
    const vocab = model.vocabSize;
    expect(maxDiff(last, adapted.subarray(adapted.length - vocab))).toBeLessThan(1e-4);
    onnx.dispose();
    model.dispose();
    base.dispose();
  });
});
