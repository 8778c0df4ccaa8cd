/**
 * Shared parity tests (run per backend by decoder-parity-*.test.ts): parity with Hugging Face transformers on the hf-tiny fixtures (llama-tiny, qwen2-tiny,
 * gpt2-tiny): logits within 1e-4, greedy generation ids exact (single prompts and the left-padded
 * batch), KV-cache generation equal to full recomputation.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadCausalLM, generate, type CausalLM } from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(path.resolve(repoRoot, '../shared'), 'fixtures/hf-tiny');

interface Reference {
  forward: {
    name: string;
    inputs: { input_ids: number[][]; attention_mask: number[][]; position_ids: number[][] | null };
    outputs: { logits: { shape: number[]; data: number[][][] } };
    compare: { atol: number };
  }[];
  generate: {
    name: string;
    inputs: { input_ids: number[][]; attention_mask: number[][] };
    params: { max_new_tokens: number; eos_token_id: number; pad_token_id: number };
    sequences: number[][];
    new_tokens: number[][];
  }[];
}

/** Largest |ours − reference| over positions where the mask is 1. */
function maxDiff(ours: tf.Tensor, ref: number[][][], mask: number[][]): number {
  const [b, t, v] = ours.shape;
  expect([b, t, v]).toEqual([ref.length, ref[0].length, ref[0][0].length]);
  const data = ours.dataSync();
  let worst = 0;
  for (let i = 0; i < b; i++)
    for (let j = 0; j < t; j++) {
      if (mask[i][j] !== 1) continue;
      for (let k = 0; k < v; k++) worst = Math.max(worst, Math.abs(data[(i * t + j) * v + k] - ref[i][j][k]));
    }
  return worst;
}

const ids2d = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');

/** Registers the parity tests, run after `setup` picked a backend. */
export function paritySuite(label: string, setup: () => Promise<void>): void {
  describe.skipIf(!existsSync(fixtures))(`HF parity on hf-tiny decoders (${label} backend)`, () => {
    beforeAll(setup);

    for (const name of ['llama-tiny', 'qwen2-tiny', 'gpt2-tiny']) {
      describe(name, () => {
        const dir = path.join(fixtures, name);
        const ref: Reference = existsSync(dir)
          ? JSON.parse(readFileSync(path.join(dir, 'reference.json'), 'utf8'))
          : { forward: [], generate: [] }; // the suite is skipped then; tests are still collected
        let model: CausalLM;
        beforeAll(async () => {
          model = await loadCausalLM(dir);
        });
        afterAll(() => model?.dispose());

        it('loads the right architecture and sizes', () => {
          expect(model.modelType).toBe(name.replace('-tiny', ''));
          expect(model.vocabSize).toBe(136);
          expect(model.numLayers).toBe(2);
          expect(model.specialTokens).toEqual({ bos: 1, eos: [2], pad: 0 });
        });

        for (const fwd of ref.forward) {
          it(`logits match HF for "${fwd.name}" within ${fwd.compare.atol}`, () => {
            const { input_ids, attention_mask, position_ids } = fwd.inputs;
            const mask = ids2d(attention_mask);
            const ids = ids2d(input_ids);
            const pos = position_ids ? ids2d(position_ids) : undefined;
            const { logits } = model.forward(ids, { attentionMask: mask, positionIds: pos });
            const diff = maxDiff(logits, fwd.outputs.logits.data, attention_mask);
            expect(diff).toBeLessThan(fwd.compare.atol);
            // Positions derived from the mask (the default) give the same logits.
            const { logits: derived } = model.forward(ids, { attentionMask: mask });
            expect(maxDiff(derived, fwd.outputs.logits.data, attention_mask)).toBeLessThan(fwd.compare.atol);
            tf.dispose([logits, derived, mask, ids, pos].filter((t): t is tf.Tensor => !!t));
          });
        }

        it('incremental forward through the KV cache equals the full forward (1e-5)', () => {
          const rows = ref.forward[0].inputs.input_ids;
          const full = model.forward(ids2d(rows)).logits; // [1, T, V]
          const cache = model.createCache();
          const split = 7;
          const a = model.forward(ids2d(rows.map((r) => r.slice(0, split))), { cache }).logits;
          expect(cache.length).toBe(split);
          const parts = [a];
          for (let j = split; j < rows[0].length; j++)
            parts.push(model.forward(ids2d(rows.map((r) => [r[j]])), { cache }).logits);
          const inc = tf.concat(parts, 1);
          expect(cache.length).toBe(rows[0].length);
          expect(tf.max(tf.abs(tf.sub(inc, full))).dataSync()[0]).toBeLessThan(1e-5);
          cache.dispose();
          tf.dispose([full, inc, ...parts]);
        });

        for (const g of ref.generate) {
          it(`greedy generation "${g.name}" reproduces HF ids exactly, with and without the KV cache`, async () => {
            const prompt = { inputIds: g.inputs.input_ids, attentionMask: g.inputs.attention_mask };
            const opts = {
              maxNewTokens: g.params.max_new_tokens,
              eosTokenId: g.params.eos_token_id,
              padTokenId: g.params.pad_token_id,
            };
            const cached = await generate(model, prompt, opts);
            expect(cached.sequences).toEqual(g.sequences);
            expect(cached.newTokens).toEqual(g.new_tokens);
            expect(cached.finishReasons.every((r) => r === 'length')).toBe(true);
            const recomputed = await generate(model, prompt, { ...opts, useCache: false });
            expect(recomputed.sequences).toEqual(cached.sequences);
          });
        }

        it('a ragged batch is left-padded like HF and gives each prompt its solo output', async () => {
          const singles = ref.generate.filter((g) => g.inputs.input_ids.length === 1);
          const prompts = singles.map((g) => g.inputs.input_ids[0]);
          const out = await generate(model, prompts, { maxNewTokens: 12 });
          expect(out.newTokens).toEqual(singles.map((g) => g.new_tokens[0]));
        });
      });
    }
  });
}
