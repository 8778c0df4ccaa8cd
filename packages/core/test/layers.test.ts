import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  ParamStore,
  Linear,
  LayerNorm,
  RMSNorm,
  Embedding,
  attention,
  paddingBias,
  causalBias,
  repeatKv,
  rotaryTables,
  applyRotary,
  gelu,
  geluTanh,
  silu,
  GatedMlp,
} from '../src/layers/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

describe('Linear', () => {
  it('computes x·W + b with W stored [in,out] in memory and [out,in] on disk', () => {
    const store = new ParamStore(1);
    const lin = new Linear(store, 'proj', 2, 3);
    // PyTorch layout [out, in]: rows are outputs.
    const w = new Float32Array([1, 2, 3, 4, 5, 6]);
    store.loadHost(
      new Map([
        ['proj.weight', { shape: [3, 2], data: w }],
        ['proj.bias', { shape: [3], data: new Float32Array([0.5, 0, -1]) }],
      ]),
    );
    const y = lin.apply(
      tf.tensor2d([
        [1, 1],
        [2, -1],
      ]),
    );
    // y0 = [1+2+.5, 3+4, 5+6-1] ; y1 = [2-2+.5, 6-4, 10-6-1]
    expect(arr(y)).toEqual([3.5, 7, 10, 0.5, 2, 3]);
    const host = store.toHost();
    expect(host.get('proj.weight')!.shape).toEqual([3, 2]);
    expect(Array.from(host.get('proj.weight')!.data)).toEqual(Array.from(w));
    store.dispose();
  });

  it('toHostAsync gives what toHost gives (PyTorch layout, filter), and leaves no tensor behind', async () => {
    const store = new ParamStore(1);
    new Linear(store, 'proj', 2, 3);
    store.loadHost(
      new Map([
        ['proj.weight', { shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
        ['proj.bias', { shape: [3], data: new Float32Array([0.5, 0, -1]) }],
      ]),
    );
    const tensorsBefore = tf.memory().numTensors;
    const host = await store.toHostAsync();
    expect(tf.memory().numTensors).toBe(tensorsBefore); // the transposed copy is disposed
    expect([...host.keys()]).toEqual(['proj.weight', 'proj.bias']);
    expect(host.get('proj.weight')!.shape).toEqual([3, 2]);
    expect(Array.from(host.get('proj.weight')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(host.get('proj.bias')!.data)).toEqual([0.5, 0, -1]);
    const onlyBias = await store.toHostAsync((n) => n.endsWith('.bias'));
    expect([...onlyBias.keys()]).toEqual(['proj.bias']);
    store.dispose();
  });

  it('LoRA starts as identity, trains only A/B, and merges to the same outputs', () => {
    const store = new ParamStore(7);
    const lin = new Linear(store, 'q', 4, 3);
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
    const before = arr(lin.apply(x));
    lin.enableLora({ rank: 2, alpha: 4, dropout: 0 });
    expect(arr(lin.apply(x))).toEqual(before);
    expect(store.trainableVariables().length).toBe(2);
    store.get('q.lora_B.weight').assign(tf.randomNormal([2, 3], 0, 1, 'float32', 5));
    const withLora = arr(lin.apply(x));
    expect(Math.max(...withLora.map((v, i) => Math.abs(v - before[i])))).toBeGreaterThan(1e-3);
    lin.mergeLora();
    const merged = arr(lin.apply(x));
    merged.forEach((v, i) => expect(v).toBeCloseTo(withLora[i], 5));
    expect(store.toHost().get('q.lora_A.weight')!.shape).toEqual([2, 4]); // PEFT: [r, in]
    store.dispose();
  });
});

describe('norms', () => {
  it('LayerNorm matches the formula on a hand case', () => {
    const store = new ParamStore();
    const ln = new LayerNorm(store, 'ln', 2, 0);
    // x = [1, 3]: mean 2, var 1 -> [-1, 1]
    expect(arr(ln.apply(tf.tensor2d([[1, 3]])))).toEqual([-1, 1]);
  });
  it('RMSNorm matches the formula on a hand case', () => {
    const store = new ParamStore();
    const rn = new RMSNorm(store, 'rn', 2, 0);
    // x = [3, 4]: rms = sqrt(12.5)
    const y = arr(rn.apply(tf.tensor2d([[3, 4]])));
    expect(y[0]).toBeCloseTo(3 / Math.sqrt(12.5), 6);
    expect(y[1]).toBeCloseTo(4 / Math.sqrt(12.5), 6);
  });
});

describe('activations', () => {
  it('match reference values', () => {
    const x = tf.tensor1d([-1, 0, 1, 2]);
    // gelu(1) = 0.8413447, gelu_new(1) = 0.8411920, silu(1) = 0.7310586
    const g = arr(gelu(x));
    expect(g[2]).toBeCloseTo(0.8413447, 6);
    expect(g[0]).toBeCloseTo(-0.1586553, 6);
    expect(arr(geluTanh(x))[2]).toBeCloseTo(0.841192, 5);
    expect(arr(silu(x))[3]).toBeCloseTo(2 / (1 + Math.exp(-2)), 6);
  });
});

describe('attention', () => {
  it('a padded key gets zero weight and the causal mask hides the future', () => {
    // 1 batch, 1 head, 2 queries, 3 keys, dim 1
    const q = tf.tensor4d([[[[1], [1]]]]);
    const k = tf.tensor4d([[[[0], [0], [0]]]]); // equal scores
    const v = tf.tensor4d([[[[1], [2], [4]]]]);
    const pad = paddingBias(tf.tensor2d([[1, 1, 0]], [1, 3], 'int32'));
    expect(arr(attention(q, k, v, { bias: pad }))).toEqual([1.5, 1.5]);
    const causal = causalBias(2, 3); // queries at positions 1, 2
    const out = arr(attention(q, k, v, { bias: causal }));
    expect(out[0]).toBeCloseTo(1.5, 6);
    expect(out[1]).toBeCloseTo(7 / 3, 6);
  });

  it('repeatKv repeats each kv head for consecutive query heads', () => {
    const x = tf.tensor4d([[[[1]], [[2]]]]); // [1, 2 kv heads, 1, 1]
    expect(arr(repeatKv(x, 2))).toEqual([1, 1, 2, 2]);
  });
});

describe('rotary', () => {
  it('rotates pairs (i, i+d/2) by position·inv_freq and preserves norms', () => {
    const x = tf.tensor4d([[[[1, 2, 3, 4]]]]); // dim 4: pairs (1,3), (2,4)
    const tables = rotaryTables(tf.tensor2d([[3]], [1, 1], 'int32'), 4, 10000);
    const y = arr(applyRotary(x, tables));
    const a0 = 3 * 1; // inv_freq_0 = 1
    const a1 = 3 * 10000 ** -0.5;
    expect(y[0]).toBeCloseTo(1 * Math.cos(a0) - 3 * Math.sin(a0), 5);
    expect(y[2]).toBeCloseTo(3 * Math.cos(a0) + 1 * Math.sin(a0), 5);
    expect(y[1]).toBeCloseTo(2 * Math.cos(a1) - 4 * Math.sin(a1), 5);
    expect(y[3]).toBeCloseTo(4 * Math.cos(a1) + 2 * Math.sin(a1), 5);
  });
});

describe('embedding and gated MLP', () => {
  it('gathers rows and projects with the transposed table', () => {
    const store = new ParamStore();
    const emb = new Embedding(store, 'wte', 3, 2);
    emb.weight.assign(
      tf.tensor2d([
        [1, 0],
        [0, 1],
        [1, 1],
      ]),
    );
    expect(arr(emb.apply(tf.tensor1d([2, 0], 'int32')))).toEqual([1, 1, 1, 0]);
    expect(arr(emb.project(tf.tensor2d([[2, 3]])))).toEqual([2, 3, 5]);
  });
  it('GatedMlp computes down(silu(gate x) * up x)', () => {
    const store = new ParamStore();
    const mlp = new GatedMlp(store, 'mlp', 1, 1);
    store.get('mlp.gate_proj.weight').assign(tf.tensor2d([[1]]));
    store.get('mlp.up_proj.weight').assign(tf.tensor2d([[2]]));
    store.get('mlp.down_proj.weight').assign(tf.tensor2d([[3]]));
    const y = arr(mlp.apply(tf.tensor2d([[1]])))[0];
    expect(y).toBeCloseTo(3 * (1 / (1 + Math.exp(-1))) * 2, 5);
  });
});
