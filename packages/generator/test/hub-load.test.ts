/**
 * loadGenerator by Hub id: `test-org/llama-tiny` served by a local Hub stand-in (HF_ENDPOINT)
 * gives the fixture directory's logits exactly, and the logits transformers computed (reference.json).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLora, loadGenerator, saveGeneratorAdapter, validateLoraConfig, type CausalLM } from '../src/index';
import { FakeHub, useFakeHubEnv } from '../../../test/helpers/fake-hub';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const llamaTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures/hf-tiny/llama-tiny');

interface ForwardCase {
  inputs: { input_ids: number[][] };
  outputs: { logits: { data: number[][][] } };
}

function logitsOf(model: CausalLM, ids: number[][]): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32')).logits.dataSync() as Float32Array);
}

describe('loadGenerator by Hub id', () => {
  let hub: FakeHub;
  let cache: string;
  let restore: () => void;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    hub = await new FakeHub({ repos: { 'test-org/llama-tiny': { dir: llamaTiny } } }).start();
    cache = mkdtempSync(path.join(os.tmpdir(), 'dalm-hub-gen-'));
    restore = useFakeHubEnv(hub, cache);
  });
  afterAll(async () => {
    restore();
    await hub.stop();
    rmSync(cache, { recursive: true, force: true });
  });

  it('gives the fixture directory logits, and transformers logits within 1e-4', async () => {
    const ref = JSON.parse(readFileSync(path.join(llamaTiny, 'reference.json'), 'utf8')) as { forward: ForwardCase[] };
    const single = ref.forward[0];
    const ids = single.inputs.input_ids;
    const byName = await loadGenerator('test-org/llama-tiny');
    const byDir = await loadGenerator(llamaTiny);
    const a = logitsOf(byName.model, ids);
    expect(Array.from(a)).toEqual(Array.from(logitsOf(byDir.model, ids)));
    const want = single.outputs.logits.data.flat(2);
    expect(a.length).toBe(want.length);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - want[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(byName.tokenizer.encode('The quick brown', { addSpecialTokens: false })).toEqual(
      byDir.tokenizer.encode('The quick brown', { addSpecialTokens: false }),
    );
    byName.model.dispose();
    byDir.model.dispose();
  });

  it('a PEFT adapter saved over a Hub base records the id (as PEFT does) and loads over it', async () => {
    const ids = [[1, 45, 74, 125, 131, 6, 5, 57, 77, 78]];
    const gen = await loadGenerator('test-org/llama-tiny');
    const lora = validateLoraConfig({ r: 4, alpha: 8 });
    applyLora(gen.model, lora);
    for (const n of [...gen.model.params.trainableByName().keys()].filter((k) => k.includes('lora_B'))) {
      const v = gen.model.params.get(n);
      v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 7));
    }
    const adapted = logitsOf(gen.model, ids);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-hub-adapter-'));
    await saveGeneratorAdapter(dir, gen.model, gen.tokenizer, gen.format, lora, 'test-org/llama-tiny');
    expect(JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')).base_model_name_or_path).toBe(
      'test-org/llama-tiny',
    );
    const again = await loadGenerator(dir);
    expect(again.lora).not.toBeNull();
    expect(Array.from(logitsOf(again.model, ids))).toEqual(Array.from(adapted));
    gen.model.dispose();
    again.model.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
});
