/**
 * Training on a real WebGPU adapter against the cpu backend.
 *
 * - Gradients: a tiny BERT retriever step (mean pooling, L2 normalisation, InfoNCE) and a tiny Llama
 *   step (GQA, RoPE, next-token cross-entropy). Each model is built twice from the same seed, once per
 *   backend; the loss and the gradient of every parameter must agree.
 * - Recipes: a few steps of `trainRetriever` (GradCache, clipping, AdamW, a checkpoint) and of
 *   `trainGenerator` (full, then LoRA) per backend from the same seed with dropout off: the loss
 *   trajectories must agree, and what webgpu trained must save and load back to the same outputs.
 *
 * Reads are asynchronous (webgpu under Node has no other). Skips, saying why, without the optional
 * packages or an adapter (packages/core/test/webgpu-adapter.ts).
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';

import { initEngine, readSafetensors, trainByteLevelBPE, trainWordPiece } from '@dalm/core';
import {
  createCausalLM,
  DEFAULT_PROMPT_FORMAT,
  generate,
  loadGenerator,
  saveGenerator,
  saveGeneratorAdapter,
  SMALL_LLAMA_CONFIG,
  type CausalLM,
  type LoraConfig,
} from '@dalm/generator';
import { BertModel, createEncoder, l2Normalize, loadEncoder, meanPool, validateBertConfig } from '@dalm/retriever';
import {
  infoNceLoss,
  listCheckpoints,
  trainGenerator,
  trainRetriever,
  type GeneratorExample,
  type TrainingPair,
} from '@dalm/trainer';
import { findAdapter, webgpuLoader } from '../packages/core/test/webgpu-adapter';

const found = await findAdapter();
const skip = 'skip' in found ? found.skip : null;
if (skip) console.warn(`webgpu-training: skipped: ${skip}`);

/** A model as the step sees it: named trainable variables, a loss, and disposal. */
interface Step {
  params: Array<[string, tf.Variable]>;
  loss: () => tf.Scalar;
  dispose: () => void;
}

/** Loss and per-parameter gradients of `build()`'s step on `backend`, read back asynchronously. */
/** Makes `backend` the active one (webgpu with the adapter options found above). */
async function useBackend(backend: 'cpu' | 'webgpu'): Promise<void> {
  await initEngine({ backend, loader: webgpuLoader, webgpu: 'options' in found ? found.options : {} });
}

async function lossAndGrads(
  backend: 'cpu' | 'webgpu',
  build: () => Step,
): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  await useBackend(backend);
  const step = build();
  const { value, grads } = tf.variableGrads(
    step.loss,
    step.params.map(([, v]) => v),
  );
  const out = new Map<string, Float32Array>();
  for (const [name, v] of step.params) out.set(name, (await grads[v.name].data()) as Float32Array);
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  step.dispose();
  return { loss, grads: out };
}

/** Largest |a - b| over all parameters, relative to the largest |b|. */
function worstRelative(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { worst: number; param: string } {
  let scale = 0;
  for (const g of b.values()) for (const v of g) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let param = '';
  for (const [name, g] of b) {
    const other = a.get(name)!;
    for (let i = 0; i < g.length; i++) {
      const d = Math.abs(other[i] - g[i]) / scale;
      if (d > worst) [worst, param] = [d, name];
    }
  }
  return { worst, param };
}

describe.skipIf(skip != null)(`training gradients: webgpu matches cpu${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('tiny BERT retriever step: mean pooling, L2 norm, InfoNCE (in-batch + 1 hard negative)', async () => {
    const build = (): Step => {
      const model = new BertModel(
        validateBertConfig({
          vocab_size: 40,
          hidden_size: 16,
          num_hidden_layers: 2,
          num_attention_heads: 2,
          intermediate_size: 32,
          max_position_embeddings: 16,
        }),
        { seed: 5, pooler: false },
      );
      const embed = (ids: number[][], mask: number[][]) => {
        const m = tf.tensor2d(mask, undefined, 'int32');
        return l2Normalize(
          meanPool(model.forward(tf.tensor2d(ids, undefined, 'int32'), m).lastHiddenState, m),
        ) as tf.Tensor2D; // [b, 16]
      };
      return {
        params: model.params.names().map((n) => [n, model.params.get(n)]),
        loss: () =>
          infoNceLoss(
            embed(
              [
                [2, 7, 9, 3, 0],
                [2, 11, 4, 3, 0],
              ],
              [
                [1, 1, 1, 1, 0],
                [1, 1, 1, 1, 0],
              ],
            ), // queries [2, 16]
            embed(
              [
                [2, 7, 8, 12, 3],
                [2, 4, 13, 3, 0],
                [2, 30, 31, 3, 0],
              ],
              [
                [1, 1, 1, 1, 1],
                [1, 1, 1, 1, 0],
                [1, 1, 1, 1, 0],
              ],
            ), // [3, 16]
          ),
        dispose: () => model.params.dispose(),
      };
    };
    const cpu = await lossAndGrads('cpu', build);
    const gpu = await lossAndGrads('webgpu', build);
    expect(cpu.grads.size).toBeGreaterThan(20);
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThanOrEqual(1e-4);
    const { worst, param } = worstRelative(gpu.grads, cpu.grads);
    expect(worst, `worst gradient: ${param}`).toBeLessThanOrEqual(1e-3);
  });

  it('tiny Llama step: GQA, RoPE, causal mask, next-token cross-entropy', async () => {
    const V = 50;
    const build = (): Step => {
      const model = createCausalLM(
        { ...SMALL_LLAMA_CONFIG, vocab_size: V, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2 },
        3,
      );
      return {
        params: model.params.names().map((n) => [n, model.params.get(n)]),
        loss: () => {
          const { logits } = model.forward(tf.tensor2d([[1, 5, 6, 7, 8, 9, 10, 11]], undefined, 'int32')); // [1, 8, V]
          const next = tf.oneHot(tf.tensor1d([5, 6, 7, 8, 9, 10, 11, 12], 'int32'), V); // [8, V]
          return tf.losses.softmaxCrossEntropy(next, tf.reshape(logits, [8, V])) as tf.Scalar;
        },
        dispose: () => model.dispose(),
      };
    };
    const cpu = await lossAndGrads('cpu', build);
    const gpu = await lossAndGrads('webgpu', build);
    expect(cpu.loss).toBeGreaterThan(Math.log(V) - 0.5); // ~ln 50 at init
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThanOrEqual(1e-4);
    const { worst, param } = worstRelative(gpu.grads, cpu.grads);
    expect(worst, `worst gradient: ${param}`).toBeLessThanOrEqual(1e-3);
  });
});

/** A made-up domain: countries with capitals, one passage each (the capital can only be read from it). */
const CITIES = ['Amber', 'Birch', 'Cedar', 'Dune', 'Ember', 'Frost', 'Grove', 'Harbor'];
const COUNTRIES = [
  'Kalomi',
  'Raton',
  'Vusida',
  'Pozebi',
  'Mirane',
  'Tolovu',
  'Sidapo',
  'Nerami',
  'Dazeka',
  'Bitoze',
  'Lokara',
  'Zevumi',
];
const DOMAIN = COUNTRIES.map((country, i) => ({
  id: `d${i}`,
  country,
  capital: CITIES[(i * 5) % CITIES.length]!,
  text: `${country} is a small country. The capital of ${country} is ${CITIES[(i * 5) % CITIES.length]}. It has ${i + 2} rivers.`,
}));

/** Largest |a - b| over two equally long arrays. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Logits [rows, seq, vocab] of `model` on `rows` (equal lengths), read asynchronously. */
async function logitsOf(model: CausalLM, rows: number[][]): Promise<Float32Array> {
  const out = tf.tidy(() => model.forward(tf.tensor2d(rows, undefined, 'int32')).logits);
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

describe.skipIf(skip != null)(
  `training recipes: webgpu matches cpu, and saves what it trained${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const tmp = fsp.mkdtemp(path.join(os.tmpdir(), 'dalm-webgpu-train-'));
    afterAll(async () => {
      await fsp.rm(await tmp, { recursive: true, force: true });
      await useBackend('cpu');
    });

    it('trainRetriever (GradCache, clipping, AdamW, checkpoint): same losses; save -> load gives the same fingerprint and vectors', async () => {
      const dir = await tmp;
      const tokenizer = trainWordPiece(
        [...DOMAIN.map((d) => d.text), ...DOMAIN.map((d) => `capital of ${d.country}`)],
        { vocabSize: 150 },
      );
      const build = () =>
        createEncoder({
          tokenizer,
          config: {
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 64,
            max_position_embeddings: 64,
            hidden_dropout_prob: 0,
            attention_probs_dropout_prob: 0,
          },
          settings: { maxLength: 64, pooling: 'mean', normalize: true },
          seed: 7,
        });
      const pairs: TrainingPair[] = DOMAIN.map((d) => ({
        query: `what is the capital of ${d.country}`,
        positive: d.text,
        positiveId: d.id,
      }));
      const config = {
        steps: 5,
        batchSize: 12,
        learningRate: 3e-3,
        warmupSteps: 1,
        maxGradNorm: 1,
        hardNegatives: 0,
        gradCacheChunk: 5,
        seed: 3,
        quiet: true,
      }; // every step: all 12 pairs, 3 chunks a side
      const queries = DOMAIN.slice(0, 4).map((d) => `capital of ${d.country}`);
      const run = async (backend: 'cpu' | 'webgpu') => {
        await useBackend(backend);
        const encoder = build();
        const initial = await encoder.ensureFingerprint();
        const norms: number[] = [];
        const r = await trainRetriever(
          encoder,
          pairs,
          { ...config, runDir: path.join(dir, `run-${backend}`) },
          { onStep: (s) => norms.push(s.gradNorm) },
        );
        await encoder.save(path.join(dir, `retriever-${backend}`));
        return { encoder, initial, losses: r.losses, norms };
      };

      const cpu = await run('cpu');
      cpu.encoder.dispose();
      await useBackend('webgpu');
      const fresh = build();
      expect(() => fresh.fingerprint).toThrow(/ensureFingerprint/); // no synchronous read of the weights on webgpu
      fresh.dispose();
      const gpu = await run('webgpu');
      try {
        expect(gpu.initial).toBe(cpu.initial); // the same seed gives the same initial weights, hashed the same
        const lossDiff = maxAbsDiff(gpu.losses, cpu.losses);
        console.log(
          `trainRetriever losses cpu ${cpu.losses.map((l) => l.toFixed(6)).join(' ')} | webgpu ${gpu.losses.map((l) => l.toFixed(6)).join(' ')} | max |diff| ${lossDiff.toExponential(2)}`,
        );
        expect(cpu.losses[4]!).toBeLessThan(cpu.losses[0]! - 0.1); // it trains (the same 12 pairs every step)
        expect(lossDiff).toBeLessThanOrEqual(1e-4);
        console.log(
          `trainRetriever gradient norms cpu ${cpu.norms.map((n) => n.toFixed(4)).join(' ')} | webgpu ${gpu.norms.map((n) => n.toFixed(4)).join(' ')}`,
        );
        expect(cpu.norms.some((n) => n > config.maxGradNorm)).toBe(true); // clipping takes part
        expect(maxAbsDiff(gpu.norms, cpu.norms)).toBeLessThanOrEqual(1e-3 * Math.max(...cpu.norms));

        // The weights webgpu wrote agree with cpu's; the checkpoint holds both moments of every parameter.
        const cpuWeights = await readSafetensors(path.join(dir, 'retriever-cpu', 'model.safetensors'));
        const gpuWeights = await readSafetensors(path.join(dir, 'retriever-webgpu', 'model.safetensors'));
        let weightDiff = 0;
        for (const [name, t] of cpuWeights)
          weightDiff = Math.max(weightDiff, maxAbsDiff(gpuWeights.get(name)!.data, t.data));
        console.log(
          `trainRetriever saved weights: max |webgpu - cpu| ${weightDiff.toExponential(2)} over ${cpuWeights.size} tensors`,
        );
        expect(weightDiff).toBeLessThanOrEqual(1e-3);
        const moments = async (backend: string) => {
          const [checkpoint] = await listCheckpoints(path.join(dir, `run-${backend}`));
          expect(checkpoint?.step).toBe(5);
          return readSafetensors(path.join(checkpoint!.dir, 'optimizer.safetensors'));
        };
        const [cpuMoments, gpuMoments] = [await moments('cpu'), await moments('webgpu')];
        expect([...gpuMoments.keys()].sort()).toEqual([...cpuMoments.keys()].sort());
        expect(cpuMoments.size).toBe(2 * (cpuWeights.size - 2)); // m and v of every parameter but the unused pooler's 2
        let momentDiff = 0;
        for (const [name, t] of cpuMoments)
          momentDiff = Math.max(momentDiff, maxAbsDiff(gpuMoments.get(name)!.data, t.data));
        console.log(
          `trainRetriever checkpoint: AdamW moments max |webgpu - cpu| ${momentDiff.toExponential(2)} over ${cpuMoments.size} tensors`,
        );
        expect(momentDiff).toBeLessThanOrEqual(1e-4);

        // save -> load on webgpu: the same weights (fingerprint) and the same vectors, bit for bit.
        const loaded = await loadEncoder(path.join(dir, 'retriever-webgpu'));
        try {
          expect(loaded.fingerprint).toBe(gpu.encoder.fingerprint);
          const [a, b] = [await gpu.encoder.embedQueries(queries), await loaded.embedQueries(queries)];
          a.forEach((v, i) => expect(maxAbsDiff(b[i]!, v)).toBe(0));
        } finally {
          loaded.dispose();
        }
      } finally {
        gpu.encoder.dispose();
      }
    });

    it('trainGenerator (full, then LoRA): same losses; save -> load gives the same logits and greedy answers', async () => {
      const dir = await tmp;
      const tok = trainByteLevelBPE(
        [
          ...DOMAIN.map((d) => d.text),
          ...DOMAIN.map((d) => `Question: What is the capital of ${d.country}?\nAnswer: ${d.capital}`),
        ],
        { vocabSize: 320 },
      );
      const build = () =>
        createCausalLM(
          {
            model_type: 'llama',
            // More rows than the tokenizer uses: with a vocabulary >= 2000 the tied head's gradient
            // dy [n, vocab] · E runs tfjs' split-K matmul (the engine's splitk-transpose-b fix).
            vocab_size: 2048,
            hidden_size: 32,
            intermediate_size: 64,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            bos_token_id: tok.special.bos,
            eos_token_id: tok.special.eos,
            pad_token_id: tok.special.pad,
            max_position_embeddings: 128,
          },
          11,
        );
      const examples: GeneratorExample[] = DOMAIN.map((d) => ({
        question: `What is the capital of ${d.country}?`,
        answer: d.capital,
        passages: [{ id: d.id, text: d.text }],
        hasGold: true,
      }));
      const config = {
        steps: 5,
        batchSize: 3,
        learningRate: 3e-3,
        warmupSteps: 1,
        maxSeqLength: 96,
        maxAnswerTokens: 8,
        seed: 3,
        quiet: true,
      };
      const probe = [DOMAIN[0]!, DOMAIN[1]!].map((d) => [
        tok.special.bos!,
        ...tok.encode(`Question: What is the capital of ${d.country}?\nAnswer:`, { addSpecialTokens: false }),
      ]);
      const probeLen = Math.min(...probe.map((p) => p.length));
      const rows = probe.map((p) => p.slice(0, probeLen));
      const run = async (backend: 'cpu' | 'webgpu') => {
        await useBackend(backend);
        const model = build();
        const format = { ...DEFAULT_PROMPT_FORMAT };
        const r = await trainGenerator(model, tok, format, examples, config);
        await saveGenerator(path.join(dir, `generator-${backend}`), model, tok, format);
        return { model, format, losses: r.losses, logits: await logitsOf(model, rows) };
      };

      const cpu = await run('cpu');
      cpu.model.dispose();
      const gpu = await run('webgpu');
      try {
        const lossDiff = maxAbsDiff(gpu.losses, cpu.losses);
        const logitDiff = maxAbsDiff(gpu.logits, cpu.logits);
        console.log(
          `trainGenerator losses cpu ${cpu.losses.map((l) => l.toFixed(6)).join(' ')} | webgpu ${gpu.losses.map((l) => l.toFixed(6)).join(' ')} | max |diff| ${lossDiff.toExponential(2)}; trained logits max |diff| ${logitDiff.toExponential(2)}`,
        );
        expect(cpu.losses[4]!).toBeLessThan(cpu.losses[0]! - 0.1); // it trains
        expect(lossDiff).toBeLessThanOrEqual(1e-4);
        expect(logitDiff).toBeLessThanOrEqual(1e-3);

        // save -> load on webgpu: the same logits, and greedy generation (async reads) gives the same tokens.
        const loaded = await loadGenerator(path.join(dir, 'generator-webgpu'));
        try {
          expect(maxAbsDiff(await logitsOf(loaded.model, rows), gpu.logits)).toBe(0);
          const [a, b] = [
            await generate(gpu.model, probe[0]!, { maxNewTokens: 6 }),
            await generate(loaded.model, probe[0]!, { maxNewTokens: 6 }),
          ];
          expect(b.newTokens).toEqual(a.newTokens);
          expect(a.newTokens[0]!.length + (a.finishReasons[0] === 'eos' ? 1 : 0)).toBeGreaterThan(0);

          // LoRA on the loaded model: two steps, then the adapter (PEFT layout) over the saved base loads back the same.
          const lora: LoraConfig = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] };
          const before = await logitsOf(loaded.model, rows);
          const r = await trainGenerator(loaded.model, loaded.tokenizer, loaded.format, examples, {
            ...config,
            steps: 2,
            lora,
          });
          expect(r.losses.every(Number.isFinite)).toBe(true);
          const adapted = await logitsOf(loaded.model, rows);
          expect(maxAbsDiff(adapted, before)).toBeGreaterThan(1e-4); // the adapter changed the outputs
          await saveGeneratorAdapter(
            path.join(dir, 'adapter-webgpu'),
            loaded.model,
            loaded.tokenizer,
            loaded.format,
            lora,
            path.join(dir, 'generator-webgpu'),
          );
          const reloaded = await loadGenerator(path.join(dir, 'adapter-webgpu'));
          try {
            expect(reloaded.lora).not.toBeNull();
            expect(maxAbsDiff(await logitsOf(reloaded.model, rows), adapted)).toBeLessThanOrEqual(1e-6);
          } finally {
            reloaded.model.dispose();
          }
        } finally {
          loaded.model.dispose();
        }
      } finally {
        gpu.model.dispose();
      }
    });
  },
);
