/**
 * The two models' training gradients on a real WebGPU adapter against the cpu backend: a tiny BERT
 * retriever step (mean pooling, L2 normalisation, InfoNCE) and a tiny Llama step (GQA, RoPE, next-token
 * cross-entropy). Each model is built twice from the same seed, once per backend; the loss and the
 * gradient of every parameter must agree. Reads are asynchronous (webgpu under Node has none other).
 * Skips, saying why, without the optional packages or an adapter (packages/core/test/webgpu-adapter.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { initEngine } from '@dalm/core';
import { createCausalLM, SMALL_DECODER_CONFIG } from '@dalm/generator';
import { BertModel, l2Normalize, meanPool, validateBertConfig } from '@dalm/retriever';
import { infoNceLoss } from '@dalm/trainer';
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
async function lossAndGrads(backend: 'cpu' | 'webgpu', build: () => Step): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  await initEngine({ backend, loader: webgpuLoader, webgpu: 'options' in found ? found.options : {} });
  const step = build();
  const { value, grads } = tf.variableGrads(step.loss, step.params.map(([, v]) => v));
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
        validateBertConfig({ vocab_size: 40, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 }),
        { seed: 5, pooler: false },
      );
      const embed = (ids: number[][], mask: number[][]) => {
        const m = tf.tensor2d(mask, undefined, 'int32');
        return l2Normalize(meanPool(model.forward(tf.tensor2d(ids, undefined, 'int32'), m).lastHiddenState, m)) as tf.Tensor2D; // [b, 16]
      };
      return {
        params: model.params.names().map((n) => [n, model.params.get(n)]),
        loss: () =>
          infoNceLoss(
            embed([[2, 7, 9, 3, 0], [2, 11, 4, 3, 0]], [[1, 1, 1, 1, 0], [1, 1, 1, 1, 0]]), // queries [2, 16]
            embed([[2, 7, 8, 12, 3], [2, 4, 13, 3, 0], [2, 30, 31, 3, 0]], [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 1, 0]]), // [3, 16]
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
      const model = createCausalLM({ ...SMALL_DECODER_CONFIG, vocab_size: V, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2 }, 3);
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
