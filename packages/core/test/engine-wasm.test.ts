/**
 * wasm with the engine's fixes against the pure-JS cpu backend and against hand-computed values:
 * embedding (gather) gradients with repeated ids, batched matMul in all transpose combinations, the
 * broadcast matMul gradient, strided-slice and comparison gradients, and a 1-layer attention block.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers the stock wasm kernels, captured below before any fix
import { describe, expect, it } from 'vitest';

import { engineInfo, initEngine } from '../src/engine/backend';
import { WASM_FIXES, type WasmFixName } from '../src/engine/wasm-fixes';

const STOCK_WASM_MATMUL = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;

const TOL = 1e-4;

/** Deterministic values in [-1, 1) (a small LCG), so both backends see identical inputs. */
function values(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

/** Runs `f` on `backend` and returns its tensors as plain arrays. */
async function on(
  backend: 'cpu' | 'wasm',
  f: () => tf.Tensor[],
  wasmFixes: readonly WasmFixName[] = WASM_FIXES,
): Promise<number[][]> {
  await initEngine({ backend, wasmFixes });
  const out = tf.tidy(f);
  const arrays = out.map((t) => Array.from(t.dataSync()));
  tf.dispose(out);
  return arrays;
}

function expectClose(actual: number[][], expected: number[][], tol = TOL): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(a.length).toBe(expected[i].length);
    const worst = Math.max(0, ...a.map((v, j) => Math.abs(v - expected[i][j])));
    expect(worst, `tensor ${i}: max |diff| = ${worst}`).toBeLessThanOrEqual(tol);
  });
}

describe('wasm fixes', () => {
  it('are applied by initEngine and can be undone, restoring the stock kernels', async () => {
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined(); // the gap being fixed
    await initEngine({ backend: 'wasm' });
    expect(engineInfo().wasm!.fixes).toEqual([...WASM_FIXES]);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(STOCK_WASM_MATMUL);
    await initEngine({ backend: 'wasm', wasmFixes: [] });
    expect(engineInfo().wasm!.fixes).toEqual([]);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(STOCK_WASM_MATMUL);
    await initEngine({ backend: 'wasm' });
    expect(engineInfo().fixes).toEqual(expect.arrayContaining(WASM_FIXES.map((f) => `wasm:${f}`)));
  });
});

describe('gather gradient (embedding) on wasm', () => {
  const V = 7;
  const D = 5;
  const ids = [
    [2, 5, 2, 2],
    [0, 6, 5, 2],
  ]; // [2, 4], id 2 four times, 5 twice; 1, 3, 4 unused
  const run = () => {
    const table = rand([V, D], 1);
    const w = rand([2, 4, D], 2);
    const loss = (e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tf.tensor2d(ids, [2, 4], 'int32')), w)); // [2, 4, D]
    const [dTable] = tf.grads(loss)([table]);
    return [dTable];
  };

  it('sums the upstream rows per id, matching a hand-computed scatter and the cpu backend', async () => {
    const w = values(2 * 4 * D, 2);
    const expected = new Array(V * D).fill(0);
    ids.flat().forEach((id, i) => {
      for (let j = 0; j < D; j++) expected[id * D + j] += w[i * D + j];
    });
    const wasm = await on('wasm', run);
    const cpu = await on('cpu', run);
    expectClose(wasm, [expected], 1e-6);
    expectClose(wasm, cpu);
    expect(wasm[0].slice(D, 2 * D)).toEqual([0, 0, 0, 0, 0]); // id 1 never gathered
  });

  it('unsortedSegmentSum drops negative and out-of-range ids, as TF does (float32 and int32)', async () => {
    const f = () => [
      tf.unsortedSegmentSum(
        tf.tensor2d([
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
          [9, 10],
        ]),
        tf.tensor1d([1, -1, 5, 1, 0], 'int32'),
        3,
      ),
      tf.unsortedSegmentSum(tf.tensor1d([10, 20, 30], 'int32'), tf.tensor1d([2, 2, 3], 'int32'), 3),
    ];
    const expected = [
      [9, 10, 8, 10, 0, 0],
      [0, 0, 30],
    ];
    expect(await on('wasm', f)).toEqual(expected);
    expect(await on('cpu', f)).toEqual(expected);
  });
});

describe('batched matMul on wasm', () => {
  const combos: Array<[boolean, boolean]> = [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ];
  for (const batch of [[2], [2, 3]]) {
    for (const [ta, tb] of combos) {
      it(`rank ${batch.length + 2}, transposeA=${ta}, transposeB=${tb}: forward and gradients match cpu`, async () => {
        const [m, k, n] = [3, 4, 5];
        const run = () => {
          const a = rand([...batch, ...(ta ? [k, m] : [m, k])], 3);
          const b = rand([...batch, ...(tb ? [n, k] : [k, n])], 4);
          const w = rand([...batch, m, n], 5);
          const y = tf.matMul(a, b, ta, tb); // [...batch, m, n]
          const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), w)))([a, b]);
          return [y, da, db];
        };
        const cpu = await on('cpu', run);
        expectClose(await on('wasm', run), cpu);
        // The stock wasm path (transpose flags, no fixes but the missing kernel) gives the same numbers.
        expectClose(await on('wasm', run, ['unsorted-segment-sum']), cpu);
        // Explicit transposes in the gradient only, stock forward kernel.
        expectClose(await on('wasm', run, ['matmul-transpose-grad']), cpu);
        // Batched products as one XNNPACK product per matrix, with the stock transposed kernel.
        expectClose(await on('wasm', run, ['matmul-batched-2d']), cpu);
      });
    }
  }

  for (const [sa, sb] of [
    [
      [1, 3, 4],
      [2, 4, 5],
    ],
    [
      [2, 3, 4],
      [1, 4, 5],
    ],
    [
      [2, 2, 3, 4],
      [4, 5],
    ],
  ]) {
    it(`broadcast batch [${sa}] x [${sb}]: forward matches cpu with the per-matrix (matmul-batched-2d) kernel`, async () => {
      const run = () => [tf.matMul(rand(sa!, 9), rand(sb!, 10))];
      const cpu = await on('cpu', run);
      expect(cpu[0]!.length).toBe(2 * (sa!.length === 4 ? 2 : 1) * 3 * 5);
      expectClose(await on('wasm', run), cpu);
    });
  }

  it('reduces the gradient over broadcast batch dims: [2,3,4] x [4,5] equals the 2-D product', async () => {
    const run = () => {
      const a = rand([2, 3, 4], 6);
      const b = rand([4, 5], 7);
      const w = rand([2, 3, 5], 8);
      const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q), w)))([a, b]); // [2,3,5]
      // Same loss through a [6, 4] x [4, 5] product, whose gradient tfjs gets right without help.
      const [da2, db2] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(tf.reshape(p, [6, 4]), q), tf.reshape(w, [6, 5]))),
      )([a, b]);
      return [da, db, da2, db2];
    };
    for (const backend of ['cpu', 'wasm'] as const) {
      const [da, db, da2, db2] = await on(backend, run);
      expect(db.length).toBe(20);
      expectClose([da, db], [da2, db2], 1e-5);
    }
  });
});

describe('gradients tfjs lacks on every backend', () => {
  // Forward on arange gives each selected element's flat index, so the expected gradient is a scatter of w.
  interface Case {
    name: string;
    shape: number[];
    begin: number[];
    end: number[];
    strides: number[];
    masks?: { begin?: number; end?: number; ellipsis?: number; newAxis?: number; shrink?: number };
  }
  const cases: Case[] = [
    { name: 'strides 2, -2', shape: [3, 4], begin: [0, 3], end: [3, 0], strides: [2, -2] },
    { name: 'shrink axis 0', shape: [3, 4], begin: [1, 0], end: [2, 4], strides: [1, 1], masks: { shrink: 1 } },
    {
      name: 'begin/end masks, stride 3',
      shape: [2, 7],
      begin: [1, 1],
      end: [0, 0],
      strides: [1, 3],
      masks: { begin: 1, end: 3 },
    },
    {
      name: 'ellipsis + new axis',
      shape: [2, 3, 4],
      begin: [0, 0, 1],
      end: [0, 0, 4],
      strides: [1, 1, 2],
      masks: { ellipsis: 1, newAxis: 2 },
    },
    { name: 'negative begin/end', shape: [6], begin: [-4], end: [-1], strides: [1] },
  ];
  for (const { name, shape, begin, end, strides, masks: m = {} } of cases) {
    it(`stridedSlice gradient scatters dy back (${name})`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const slice = (x: tf.Tensor) =>
        tf.stridedSlice(
          x,
          begin,
          end,
          strides,
          m.begin ?? 0,
          m.end ?? 0,
          m.ellipsis ?? 0,
          m.newAxis ?? 0,
          m.shrink ?? 0,
        );
      const run = () => {
        const positions = slice(tf.reshape(tf.range(0, size), shape));
        const w = rand(positions.shape, 9);
        const [dx] = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(slice(x), w)))([tf.zeros(shape)]);
        return [positions, w, dx];
      };
      for (const backend of ['cpu', 'wasm'] as const) {
        const [positions, w, dx] = await on(backend, run);
        const expected = new Array(size).fill(0);
        positions.forEach((p, i) => (expected[p] += w[i]));
        expect(positions.length).toBeGreaterThan(1);
        expectClose([dx], [expected], 1e-7);
      }
    });
  }

  it('cumsum gradient along a middle axis is the reversed scan of dy', async () => {
    // y[b, i, c] = sum_{j<=i} x[b, j, c], so dx[b, j, c] = sum_{i>=j} w[b, i, c]; exclusive drops i = j.
    const w = [1, 2, 3, 4, 5, 6]; // [1, 3, 2]
    const run = () =>
      [false, true].map((exclusive) =>
        tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.cumsum(x, 1, exclusive), tf.tensor3d(w, [1, 3, 2]))))(
          tf.zeros([1, 3, 2]),
        ),
      );
    for (const backend of ['cpu', 'wasm'] as const) {
      expectClose(
        await on(backend, run),
        [
          [9, 12, 8, 10, 5, 6],
          [8, 10, 5, 6, 0, 0],
        ],
        1e-7,
      );
    }
  });

  it('comparison and logical ops pass zero gradient (where(x > 0, x, 0.1x) is leaky ReLU)', async () => {
    const run = () => [
      tf.grad((x: tf.Tensor) => tf.sum(tf.where(tf.greater(x, 0), x, tf.mul(x, 0.1))))(tf.tensor1d([-1, 2, -3])),
      tf.grad((x: tf.Tensor) =>
        tf.sum(tf.mul(tf.cast(tf.logicalAnd(tf.less(x, 1), tf.notEqual(x, -3)), 'float32'), x)),
      )(tf.tensor1d([-1, 2, -3])),
    ];
    for (const backend of ['cpu', 'wasm'] as const) {
      expectClose(
        await on(backend, run),
        [
          [0.1, 1, 0.1],
          [1, 0, 0],
        ],
        1e-7,
      );
    }
  });
});

describe('1-layer attention block, end to end', () => {
  const [B, S, D, H, V] = [2, 5, 8, 2, 11];
  const Dh = D / H;
  const ids = [
    [1, 4, 4, 9, 0],
    [3, 3, 10, 2, 7],
  ];
  const targets = [4, 4, 9, 0, 1, 3, 10, 2, 7, 5];

  /** Embedding -> causal 2-head attention -> GELU MLP -> layer norm -> tied logits -> mean cross-entropy. */
  function loss(p: tf.Tensor[]): tf.Scalar {
    const [emb, wq, wk, wv, wo, w1, w2, gamma] = p;
    const x = tf.gather(emb, tf.tensor2d(ids, [B, S], 'int32')); // [B, S, D]
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, S, H, Dh]), [0, 2, 1, 3]); // [B, H, S, Dh]
    const q = heads(tf.matMul(x, wq));
    const k = heads(tf.matMul(x, wk));
    const v = heads(tf.matMul(x, wv));
    const mask = tf.linalg.bandPart(tf.ones([S, S]), -1, 0); // [S, S] lower triangle
    const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(Dh)), tf.mul(tf.sub(1, mask), -1e9)); // [B, H, S, S]
    const ctx = tf.matMul(tf.softmax(scores), v); // [B, H, S, Dh]
    const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B, S, D]);
    const h = tf.add(x, tf.matMul(merged, wo)); // [B, S, D]
    const u = tf.matMul(h, w1); // [B, S, 2D]
    const gelu = tf.mul(tf.mul(u, 0.5), tf.add(1, tf.erf(tf.div(u, Math.SQRT2))));
    const r = tf.add(h, tf.matMul(gelu, w2)); // [B, S, D]
    const mean = tf.mean(r, -1, true);
    const centered = tf.sub(r, mean);
    const normed = tf.mul(tf.mul(centered, tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), 1e-5))), gamma);
    const logits = tf.matMul(tf.reshape(normed, [B * S, D]), emb, false, true); // [B*S, V]
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), -1))) as tf.Scalar;
  }

  const run = () => {
    const shapes = [[V, D], [D, D], [D, D], [D, D], [D, D], [D, 2 * D], [2 * D, D], [D]];
    const params = shapes.map((s, i) => tf.mul(rand(s, 20 + i), s[0] === V ? 1 : 0.5));
    const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) => loss(p))(params);
    return [value, ...grads];
  };

  it('gives the same loss and parameter gradients on wasm as on cpu', async () => {
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    expect(cpu[0][0]).toBeGreaterThan(1); // ~ln(11) = 2.4 for an untrained model
    expect(cpu[0][0]).toBeLessThan(5);
    expect(Math.max(...cpu[1].map(Math.abs))).toBeGreaterThan(1e-3); // embedding grad is not trivially zero
    expectClose(wasm, cpu);
  });

  it('does not leak tensors over repeated steps on wasm', async () => {
    await initEngine({ backend: 'wasm' });
    tf.dispose(tf.tidy(run));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(tf.tidy(run));
    expect(tf.memory().numTensors).toBe(before);
  });
});
