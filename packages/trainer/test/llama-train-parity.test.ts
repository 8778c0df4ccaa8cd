/**
 * Training parity with PyTorch: the generator recipe's pieces (collateLm, lmLoss = mean answer-token
 * NLL) run by the generic loop (AdamW, global-norm clipping, warmup + linear decay) on the hf-tiny
 * Llama reproduce, step by step, the losses `scripts/reference/llama_train_parity.py` computed with
 * torch.optim.AdamW and transformers' LlamaForCausalLM (committed in test/reference/), within
 * 1e-5 relative: full fine-tuning, and LoRA on q_proj/v_proj from the adapter init the script drew.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { applyLora, loadCausalLM, type CausalLM } from '@dalm/generator';
import {
  collateLm,
  lmLoss,
  train,
  validateGeneratorTrainConfig,
  type EncodedExample,
  type LmBatch,
} from '../src/index';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const fixture = path.join(path.resolve(repoRoot, '../shared'), 'fixtures/hf-tiny/llama-tiny');

interface Data {
  pad_token_id: number;
  examples: { prompt: number[]; answer: number[] }[];
  train: Record<string, number | string>;
  full: { learningRate: number };
  lora: { learningRate: number; r: number; alpha: number; dropout: number; targetModules: string[] };
}
interface RunRef {
  losses: number[];
  grad_norms: number[];
  final_loss: number;
  trainable: number;
  lora_init?: Record<string, { shape: number[]; data: number[] }>;
}
const data: Data = JSON.parse(readFileSync(path.join(here, 'reference/llama-train-parity-data.json'), 'utf8'));
const ref: { full: RunRef; lora: RunRef } = JSON.parse(
  readFileSync(path.join(here, 'reference/llama-train-parity.json'), 'utf8'),
);

/** (prompt, answer) -> the recipe's row: input/target shifted by one, loss on targets inside the answer. */
function encode(ex: { prompt: number[]; answer: number[] }): EncodedExample {
  const seq = [...ex.prompt, ...ex.answer];
  return {
    input: seq.slice(0, -1),
    target: seq.slice(1),
    mask: seq.slice(1).map((_, t) => (t + 1 >= ex.prompt.length ? 1 : 0)),
  };
}

async function run(
  model: CausalLM,
  learningRate: number,
): Promise<{ losses: number[]; norms: number[]; final: number }> {
  const rows = data.examples.map(encode);
  const norms: number[] = [];
  const config = validateGeneratorTrainConfig({
    ...(data.train as object),
    learningRate,
    quiet: true,
    logEvery: 1000,
    lora: null,
  });
  const result = await train<LmBatch>(
    {
      params: { generator: model.params },
      dataset: {
        size: rows.length,
        collate: (idx) =>
          collateLm(
            idx.map((i) => rows[i]),
            data.pad_token_id,
          ),
      },
      loss: (b) => lmLoss(model, b, true),
    },
    config,
    { onStep: (s) => norms.push(s.gradNorm) },
  );
  const b = collateLm(rows, data.pad_token_id);
  const finalT = lmLoss(model, b, false);
  const final = (await finalT.data())[0];
  tf.dispose([finalT, b as unknown as tf.TensorContainer]);
  return { losses: result.losses, norms, final };
}

function expectClose(ours: number[], theirs: number[], rel: number): void {
  expect(ours).toHaveLength(theirs.length);
  console.log(
    `max relative difference ${Math.max(...ours.map((v, i) => Math.abs(v - theirs[i]) / Math.abs(theirs[i]))).toExponential(2)} (bound ${rel})`,
  );
  ours.forEach((v, i) => expect(Math.abs(v - theirs[i]) / Math.abs(theirs[i])).toBeLessThan(rel));
}

describe.skipIf(!existsSync(fixture))('generator training parity with PyTorch (hf-tiny llama)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('full fine-tuning: 5 step losses, grad norms and the final loss within 1e-5 relative', async () => {
    const model = await loadCausalLM(fixture);
    expect(model.params.count(true)).toBe(ref.full.trainable);
    const { losses, norms, final } = await run(model, data.full.learningRate);
    console.log(
      'full  ours',
      losses.map((x) => x.toFixed(6)).join(' '),
      '| torch',
      ref.full.losses.map((x) => x.toFixed(6)).join(' '),
    );
    expectClose(losses, ref.full.losses, 1e-5);
    expectClose(norms, ref.full.grad_norms, 1e-4);
    expectClose([final], [ref.full.final_loss], 1e-5);
    expect(ref.full.losses[4]).toBeLessThan(ref.full.losses[0] - 3); // the steps really train
    model.dispose();
  });

  it("LoRA (q_proj, v_proj) from the script's adapter init: losses within 1e-5 relative", async () => {
    const model = await loadCausalLM(fixture);
    const { r, alpha, dropout, targetModules } = data.lora;
    applyLora(model, { r, alpha, dropout, targetModules });
    const init = new Map(
      Object.entries(ref.lora.lora_init!).map(([name, t]) => [
        name,
        { shape: t.shape, data: Float32Array.from(t.data) },
      ]),
    );
    model.params.loadHost(init, { strict: false, source: 'llama-train-parity.json lora_init' });
    expect(model.params.count(true)).toBe(ref.lora.trainable);
    const { losses, norms, final } = await run(model, data.lora.learningRate);
    console.log(
      'lora  ours',
      losses.map((x) => x.toFixed(6)).join(' '),
      '| torch',
      ref.lora.losses.map((x) => x.toFixed(6)).join(' '),
    );
    expectClose(losses, ref.lora.losses, 1e-5);
    expectClose(norms, ref.lora.grad_norms, 1e-4);
    expectClose([final], [ref.lora.final_loss], 1e-5);
    model.dispose();
  });
});
