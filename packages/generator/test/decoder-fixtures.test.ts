/**
 * Loading current Llama checkpoints: rope_scaling llama3 and linear (with rope_theta from
 * transformers 5's `rope_parameters`), tied and untied heads, float16 and bfloat16 weights, and a
 * checkpoint sharded over 12 files (`model.safetensors.index.json`). Each fixture is a tiny random
 * model written by scripts/reference/make_decoder_fixtures.py with the logits transformers computes;
 * ours must match within 1e-4 (including positions 200..211, past the original context).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadCausalLM, ropeInvFreq, type LlamaForCausalLM } from '../src/index';

const root = path.join(
  process.env.DALM_REFERENCE_DIR ?? path.join(os.homedir(), '.cache/dalm/reference'),
  'decoder-fixtures',
);
const CASES = ['rope-llama3', 'rope-linear', 'sharded-bf16'];
const absent = CASES.filter((c) => !existsSync(path.join(root, c, 'reference.json')));
if (absent.length) {
  console.warn(
    `[skip] decoder fixtures ${absent.join(', ')} missing under ${root}: run bash scripts/reference/setup-venv.sh, then ~/.cache/dalm/pyref/bin/python scripts/reference/make_decoder_fixtures.py (needs PyPI torch + transformers)`,
  );
}

interface Ref {
  stored_dtype: string;
  shards: string[];
  input_ids: number[][];
  position_ids: number[][];
  logits: number[][][];
  atol: number;
}

describe('rope scaling frequencies (by hand)', () => {
  it('linear divides every frequency; llama3 keeps high, divides low, blends the middle band', () => {
    const plain = ropeInvFreq(16, 10000, null);
    expect(plain[1]).toBeCloseTo(10000 ** (-2 / 16), 7);
    const lin = ropeInvFreq(16, 10000, { rope_type: 'linear', factor: 4 });
    lin.forEach((f, i) => expect(f).toBeCloseTo(plain[i] / 4, 9));
    const l3 = ropeInvFreq(16, 10000, {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 256,
    });
    // wavelengths 2π/f: i=2 is 62.8 < 256/4 (kept), i=3 is 198.7 (blended), i>=4 > 256 (divided by 8)
    expect(l3[2]).toBe(plain[2]);
    const s = (256 / ((2 * Math.PI) / plain[3]) - 1) / (4 - 1);
    expect(l3[3]).toBeCloseTo(((1 - s) * plain[3]) / 8 + s * plain[3], 9);
    for (let i = 4; i < 8; i++) expect(l3[i]).toBeCloseTo(plain[i] / 8, 12);
  });
});

describe.skipIf(absent.length > 0)('current Llama checkpoints vs transformers', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const name of CASES) {
    it(`${name}: logits within 1e-4 of transformers`, async () => {
      const dir = path.join(root, name);
      const ref: Ref = JSON.parse(readFileSync(path.join(dir, 'reference.json'), 'utf8'));
      const model = (await loadCausalLM(dir)) as LlamaForCausalLM;
      if (name === 'rope-llama3') expect(model.config.rope_scaling?.rope_type).toBe('llama3');
      if (name === 'rope-linear') {
        expect(model.config.rope_scaling).toEqual({ rope_type: 'linear', factor: 4 });
        expect(model.config.rope_theta).toBe(50000);
        expect(model.lmHead).toBeNull();
        expect(ref.stored_dtype).toBe('float16');
      }
      if (name === 'sharded-bf16') {
        expect(ref.shards.length).toBeGreaterThan(1);
        expect(ref.stored_dtype).toBe('bfloat16');
        expect(model.lmHead).not.toBeNull();
      }
      const ids = tf.tensor2d(ref.input_ids, undefined, 'int32');
      const pos = tf.tensor2d(ref.position_ids, undefined, 'int32');
      const { logits } = model.forward(ids, { positionIds: pos });
      const data = logits.dataSync();
      const flat = ref.logits.flat(2);
      let worst = 0;
      for (let i = 0; i < flat.length; i++) worst = Math.max(worst, Math.abs(data[i] - flat[i]));
      tf.dispose([ids, pos, logits]);
      model.dispose();
      console.log(`${name}: max |Δlogit| ${worst.toExponential(2)}`);
      expect(data.length).toBe(flat.length);
      expect(worst).toBeLessThan(ref.atol);
    });
  }

  it('a shard index naming a missing file is an error naming the index and the shard', async () => {
    const { mkdtempSync, cpSync, rmSync, readdirSync } = await import('node:fs');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'shards-'));
    const src = path.join(root, 'sharded-bf16');
    for (const f of readdirSync(src))
      if (f !== 'model-00003-of-00012.safetensors') cpSync(path.join(src, f), path.join(tmp, f));
    await expect(loadCausalLM(tmp)).rejects.toThrow(
      /model.safetensors.index.json: shard model-00003-of-00012.safetensors .* does not exist/,
    );
    rmSync(tmp, { recursive: true, force: true });
  });
});
