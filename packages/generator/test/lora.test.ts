import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import os from 'node:os';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { initEngine, readSafetensors } from '@dalm/core';
import { loadCausalLM } from '../src/load';
import {
  applyLora,
  saveLoraAdapter,
  loadLoraAdapter,
  mergeLora,
  ADAPTER_WEIGHTS_FILE,
  ADAPTER_CONFIG_FILE,
} from '../src/lora';

const fixture = path.resolve(__dirname, '../../../../shared/fixtures/hf-tiny/llama-tiny');
const ids = tf.tensor2d([[1, 5, 9, 17, 33, 4]], undefined, 'int32');

describe.skipIf(!existsSync(fixture))('LoRA adapters in the PEFT layout', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('starts as a no-op, trains only A/B, round-trips through PEFT files, and merges exactly', async () => {
    const model = await loadCausalLM(fixture);
    const base = model.forward(ids).logits.dataSync().slice();
    const config = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] };
    const targets = applyLora(model, config);
    expect(targets).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    expect(Array.from(model.forward(ids).logits.dataSync())).toEqual(Array.from(base));
    const trainable = [...model.params.trainableByName().keys()];
    expect(trainable.length).toBe(8);
    expect(trainable.every((n) => /lora_[AB]/.test(n))).toBe(true);
    // Pretend training moved B away from zero.
    for (const n of trainable.filter((n) => n.includes('lora_B'))) {
      const v = model.params.get(n);
      v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 3));
    }
    const adapted = model.forward(ids).logits.dataSync().slice();
    expect(Math.max(...adapted.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-2);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-lora-'));
    await saveLoraAdapter(dir, model, config, fixture);
    const cfg = JSON.parse(readFileSync(path.join(dir, ADAPTER_CONFIG_FILE), 'utf8'));
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      target_modules: ['q_proj', 'v_proj'],
      task_type: 'CAUSAL_LM',
    });
    const tensors = await readSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE));
    expect(tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape).toEqual([4, 32]); // [r, in]
    expect(tensors.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')!.shape).toEqual([16, 4]); // [out, r]: 2 kv heads x 8

    const fresh = await loadCausalLM(fixture);
    await loadLoraAdapter(dir, fresh);
    const reloaded = fresh.forward(ids).logits.dataSync();
    reloaded.forEach((v, i) => expect(v).toBeCloseTo(adapted[i], 5));

    expect(mergeLora(fresh)).toBe(4);
    const merged = fresh.forward(ids).logits.dataSync();
    merged.forEach((v, i) => expect(v).toBeCloseTo(adapted[i], 4));
    model.dispose();
    fresh.dispose();
  });

  it('names the valid module kinds when no target matches', async () => {
    const model = await loadCausalLM(fixture);
    expect(() => applyLora(model, { targetModules: ['c_attn'] })).toThrow(
      /no module matches target_modules \[c_attn\].*q_proj/,
    );
    model.dispose();
  });
});
