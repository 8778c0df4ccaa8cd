/**
 * A llama GGUF file with every supported tensor type (Q8_0, Q4_1, Q4_0, F16, F32), written from the
 * hf-tiny llama by scripts/reference/make_gguf_fixture.py as llama.cpp converts (Q/K rows permuted):
 * `loadGenerator(file.gguf)` must give transformers' logits for the same file within 1e-4 and the
 * same token ids; and a LoRA adapter saved over the GGUF base (PEFT layout, base path recorded)
 * must load back through `loadGenerator(adapterDir)` with identical outputs.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { applyLora, loadGenerator, saveGeneratorAdapter, type LoadedGenerator } from '../src/index';

const dir = path.join(process.env.DALM_REFERENCE_DIR ?? path.join(os.homedir(), '.cache/dalm/reference'), 'gguf');
const refFile = path.join(dir, 'llama-tiny-mixed.json');
const gguf = path.join(dir, 'llama-tiny-mixed.gguf');
const missing = !existsSync(refFile) || !existsSync(gguf);
if (missing)
  console.warn(
    `[skip] tiny GGUF parity: ${gguf} or its reference is missing: run bash scripts/reference/setup-venv.sh, then ~/.cache/dalm/pyref/bin/python scripts/reference/make_gguf_fixture.py (PyPI torch, transformers, accelerate, gguf)`,
  );

interface Ref {
  input_ids: number[][];
  logits: number[][][];
  text: string;
  text_ids: number[];
  atol: number;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe.skipIf(missing)('tiny llama GGUF (Q8_0/Q4_1/Q4_0/F16/F32) vs transformers', () => {
  const ref: Ref = missing ? ({} as Ref) : JSON.parse(readFileSync(refFile, 'utf8'));
  let gen: LoadedGenerator;
  let tmp: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    gen = await loadGenerator(gguf);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'gguf-adapter-'));
  });
  afterAll(() => {
    gen?.model.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const logitsOf = (g: LoadedGenerator) => {
    const ids = tf.tensor2d(ref.input_ids, undefined, 'int32');
    const { logits } = g.model.forward(ids);
    const data = logits.dataSync().slice();
    tf.dispose([ids, logits]);
    return data;
  };

  it('logits within 1e-4, untied head, tokenizer ids and chat template from the metadata', () => {
    const worst = maxDiff(logitsOf(gen), ref.logits.flat(2));
    console.log(`tiny GGUF: max |Δlogit| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(ref.atol);
    expect(gen.model.params.has('lm_head.weight')).toBe(true);
    expect(gen.tokenizer.encode(ref.text, { addSpecialTokens: false })).toEqual(ref.text_ids);
    expect(gen.model.specialTokens).toEqual({ bos: 1, eos: [2], pad: 0 });
    expect(gen.format.chat?.template).toContain('<|im_start|>');
  });

  it('a LoRA adapter over the GGUF base saves and loads back with the same outputs', async () => {
    const lora = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] };
    applyLora(gen.model, lora);
    const updates = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const name of gen.model.params.names().filter((n) => n.includes('.lora_B.'))) {
      const v = gen.model.params.get(name); // [r, out] in memory, [out, r] on disk
      const [r, out] = v.shape;
      updates.set(name, {
        shape: [out, r],
        data: Float32Array.from({ length: out * r }, (_, i) => 0.05 * Math.sin(i + 1)),
      });
    }
    gen.model.params.loadHost(updates, { strict: false });
    const withLora = logitsOf(gen);
    expect(maxDiff(withLora, ref.logits.flat(2))).toBeGreaterThan(1e-3); // the adapter changes the outputs
    const adapterDir = path.join(tmp, 'adapter');
    await saveGeneratorAdapter(adapterDir, gen.model, gen.tokenizer, gen.format, lora, gguf);
    const back = await loadGenerator(adapterDir);
    try {
      expect(back.lora).toMatchObject(lora);
      expect(path.resolve(adapterDir, (back.lora as { baseModel?: string }).baseModel ?? '')).toBe(gguf); // recorded relative to the adapter
      expect(maxDiff(logitsOf(back), withLora)).toBeLessThan(1e-6);
      expect(back.tokenizer.encode(ref.text, { addSpecialTokens: false })).toEqual(ref.text_ids);
      expect(back.format.chat?.template).toBe(gen.format.chat?.template);
    } finally {
      back.model.dispose();
    }
  });
});
