/**
 * Out-of-memory handling of training on wasm (core engine/memory.ts, loop planMemory, retriever
 * fittingGradCacheChunk):
 * - the errors the wasm module raises when its 4 GiB heap runs out (WebAssembly.RuntimeError
 *   "Aborted()", "table index is out of bounds", "memory access out of bounds") become an
 *   OutOfMemoryError naming the settings to lower; other errors pass unchanged;
 * - the backprop estimate is checked against tf.profile's peak bytes of a real forward + backward of a
 *   small BERT on wasm (the estimate must cover it, and not by more than 3x);
 * - at bge-small shape (12 x 384, 256 tokens) a GradCache chunk of 8 passages does not fit the heap
 *   without checkpointing (the reported `dalm train retriever --grad-cache-chunk 8` crash), fits with
 *   it, and 'auto' turns checkpointing on; a chunk that cannot fit is halved until it does.
 */
import * as tf from '@tensorflow/tfjs';
import {
  OutOfMemoryError,
  WASM_HEAP_MAX_BYTES,
  estimateBackpropBytes,
  explainOutOfMemory,
  initEngine,
  isWasmOutOfMemory,
  setGradientCheckpointing,
  type TransformerShape,
} from '@dalm/core';
import { BertModel, validateBertConfig, type Encoder } from '@dalm/retriever';
import { beforeAll, describe, expect, it } from 'vitest';
import { MEMORY_HEADROOM, planMemory, type TrainMemory } from '../src/loop/trainer';
import { fittingGradCacheChunk, retrieverTrainMemory, validateRetrieverTrainConfig } from '../src/recipes/retriever';

const BGE_SMALL = { num_hidden_layers: 12, hidden_size: 384, num_attention_heads: 12, intermediate_size: 1536 };
const BGE_SMALL_PARAMS = 33_360_000;

/** An Encoder as far as the memory estimate reads it (shape, parameter count, maxLength). */
function fakeEncoder(maxLength: number): Encoder {
  return {
    model: { config: BGE_SMALL },
    params: { count: () => BGE_SMALL_PARAMS },
    settings: { maxLength },
  } as unknown as Encoder;
}

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

describe('wasm out-of-memory errors', () => {
  const advice = ['--grad-cache-chunk', '--batch-size', '--gradient-checkpointing on'];
  for (const message of [
    'Aborted(). Build with -sASSERTIONS for more info.',
    'table index is out of bounds',
    'memory access out of bounds',
  ]) {
    it(`"${message}" becomes an OutOfMemoryError that names what to lower`, () => {
      const original = new WebAssembly.RuntimeError(message);
      expect(isWasmOutOfMemory(original)).toBe(true);
      const e = explainOutOfMemory(original, 'train retriever: step 1', advice) as OutOfMemoryError;
      expect(e).toBeInstanceOf(OutOfMemoryError);
      expect(e.original).toBe(original);
      expect(e.message).toMatch(
        /^train retriever: step 1 ran out of memory: the wasm backend's heap stops at 4\.00 GiB/,
      );
      expect(e.message).toContain('Lower --grad-cache-chunk, --batch-size, or --gradient-checkpointing on.');
      expect(e.message).toContain('start a new process');
    });
  }

  it('leaves other errors alone', () => {
    const plain = new Error('table index is out of bounds'); // not a RuntimeError
    expect(explainOutOfMemory(plain, 'x', ['--batch-size'])).toBe(plain);
    const other = new WebAssembly.RuntimeError('unreachable');
    expect(explainOutOfMemory(other, 'x', ['--batch-size'])).toBe(other);
  });

  it('the training loop turns an OOM inside a step into the explained error', async () => {
    const { train } = await import('../src/loop/trainer');
    const { ParamStore } = await import('@dalm/core');
    const store = new ParamStore(1);
    store.create('w', [2]);
    const run = train(
      {
        params: { m: store },
        dataset: { size: 4, collate: () => null },
        gradients: async () => {
          throw new WebAssembly.RuntimeError('memory access out of bounds');
        },
      },
      { steps: 1, batchSize: 2, quiet: true, label: 'train lm' },
    );
    await expect(run).rejects.toThrow(
      /^train lm: step 1 ran out of memory: .*Lower --batch-size, --max-seq-length, or --gradient-checkpointing on\./,
    );
    store.dispose();
  });
});

describe('backprop memory estimate', () => {
  it('covers the measured peak of a real forward + backward on wasm (small BERT, 4 x 64 tokens), within 3x', async () => {
    const cfg = validateBertConfig({
      vocab_size: 500,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 256,
      max_position_embeddings: 64,
    });
    const bert = new BertModel(cfg, { pooler: false });
    const ids = tf.randomUniform([4, 64], 1, 499, 'int32');
    const mask = tf.ones([4, 64], 'int32');
    const shape: TransformerShape = { layers: 2, hidden: 64, heads: 4, intermediate: 256, params: bert.params.count() };
    for (const checkpointing of [false, true]) {
      setGradientCheckpointing(checkpointing);
      const before = tf.memory().numBytes;
      const prof = await tf.profile(() => {
        const r = tf.variableGrads(
          () => tf.mean(bert.forward(ids, mask, null, { training: true, pooler: false }).lastHiddenState) as tf.Scalar,
          bert.params.trainableVariables(),
        );
        r.value.dispose();
        tf.dispose(r.grads);
      });
      setGradientCheckpointing(false);
      // Measured: what the step added on top of the weights already there, plus the weights and two moments AdamW would add.
      const measured = prof.peakBytes - before + 3 * 4 * shape.params;
      const estimate = estimateBackpropBytes(shape, 4, 64, { checkpointing });
      console.log(
        `checkpointing ${checkpointing}: measured ${(measured / 2 ** 20).toFixed(1)} MiB, estimated ${(estimate / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(estimate).toBeGreaterThanOrEqual(measured);
      expect(estimate).toBeLessThanOrEqual(3 * measured);
    }
    bert.dispose();
    tf.dispose([ids, mask]);
  });

  it('at bge-small shape, 8 x 256 tokens needs checkpointing to fit the 4 GiB heap; auto turns it on', () => {
    const c = validateRetrieverTrainConfig({ batchSize: 16, gradCacheChunk: 8 });
    const memory = retrieverTrainMemory(fakeEncoder(256), c);
    const budget = WASM_HEAP_MAX_BYTES * MEMORY_HEADROOM;
    expect(memory.estimateBytes(false)).toBeGreaterThan(budget);
    expect(memory.estimateBytes(true)).toBeLessThan(budget / 2);
    expect(planMemory('auto', memory).checkpointing).toBe(true);
    expect(fittingGradCacheChunk(fakeEncoder(256), c)).toBe(8); // fits with checkpointing: no need to lower the chunk
    expect(() => planMemory('off', memory, 'train retriever')).toThrow(
      /^train retriever: one micro-batch needs ~[\d.]+ GiB \(gradient checkpointing off\), more than 85% of the 4\.00 GiB wasm heap; lower --grad-cache-chunk, --batch-size, .*, or --gradient-checkpointing on$/,
    );
  });

  it('at bge-small shape, 32 pairs (48-token queries, 256-token passages) fit plain backprop only with checkpointing', () => {
    const c = validateRetrieverTrainConfig({ batchSize: 32, hardNegatives: 0, gradCacheChunk: 0 });
    const memory = retrieverTrainMemory(fakeEncoder(256), c, 0, { query: 48, passage: 256 });
    const budget = WASM_HEAP_MAX_BYTES * MEMORY_HEADROOM;
    expect(memory.estimateBytes(false)).toBeGreaterThan(budget);
    expect(memory.estimateBytes(true)).toBeLessThan(budget);
    expect(planMemory('auto', memory).checkpointing).toBe(true);
  });

  it('lowers a chunk that cannot fit, and fails up front (before any step) when nothing fits', () => {
    const off = validateRetrieverTrainConfig({ batchSize: 64, gradCacheChunk: 64, gradientCheckpointing: 'off' });
    const chunk = fittingGradCacheChunk(fakeEncoder(512), off);
    expect(chunk).toBeLessThan(64);
    expect(chunk).toBeGreaterThanOrEqual(1);
    const budget = WASM_HEAP_MAX_BYTES * MEMORY_HEADROOM;
    expect(retrieverTrainMemory(fakeEncoder(512), off, chunk).estimateBytes(false)).toBeLessThanOrEqual(budget);
    expect(retrieverTrainMemory(fakeEncoder(512), off, chunk * 2).estimateBytes(false)).toBeGreaterThan(budget);
    const huge: TrainMemory = {
      estimateBytes: () => 2 * WASM_HEAP_MAX_BYTES,
      advice: ['--batch-size', '--gradient-checkpointing on'],
    };
    expect(() => planMemory('auto', huge, 'train lm')).toThrow(OutOfMemoryError);
    expect(() => planMemory('auto', huge, 'train lm')).toThrow(/gradient checkpointing on\), .*; lower --batch-size$/);
  });
});
