/**
 * Gradient checkpointing (core checkpoint.ts, wired into bert.ts, llama.ts, gpt2.ts) and the engine's
 * frugal backward pass (core backprop.ts) change what backprop keeps, not what it computes: on the
 * hf-tiny BERT, Llama and GPT-2 checkpoints, in training mode with dropout on (BERT and GPT-2 use
 * p = 0.1), the gradient of every parameter with checkpointing equals the one without, within 1e-5
 * abs, on cpu and wasm. The dropout seed stream is reset before each run so both draw the same masks;
 * a run with another seed stream must differ (the comparison would be vacuous if dropout were off).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import {
  initEngine,
  installFrugalBackprop,
  resetDropoutSeeds,
  setGradientCheckpointing,
  type ParamStore,
} from '@dalm/core';
import { loadEncoder } from '@dalm/retriever';
import { loadCausalLM } from '@dalm/generator';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const tiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny');
const TOL = 1e-5;

interface Case {
  name: string;
  params: ParamStore;
  /** A scalar that depends on every block's output, in training mode. */
  loss: () => tf.Scalar;
  dispose: () => void;
  dropout: boolean;
}

async function loadCase(name: string): Promise<Case> {
  const dir = path.join(tiny, name);
  if (name === 'bert-tiny') {
    const enc = await loadEncoder(dir, { normalize: false });
    const ids = tf.tensor2d(
      [
        [2, 15, 27, 33, 48, 3, 0],
        [2, 40, 41, 42, 3, 0, 0],
      ],
      undefined,
      'int32',
    );
    const mask = tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 0, 0],
      ],
      undefined,
      'int32',
    );
    const w = tf.randomNormal([2, 7, enc.model.config.hidden_size], 0, 1, 'float32', 3);
    return {
      name,
      params: enc.model.params,
      loss: () =>
        tf.sum(tf.mul(enc.model.forward(ids, mask, null, { training: true }).lastHiddenState, w)) as tf.Scalar,
      dispose: () => {
        enc.dispose();
        tf.dispose([ids, mask, w]);
      },
      dropout: true,
    };
  }
  const lm = await loadCausalLM(dir);
  const ids = tf.tensor2d(
    [
      [1, 17, 29, 64, 88, 101],
      [5, 6, 7, 8, 9, 10],
    ],
    undefined,
    'int32',
  );
  const w = tf.randomNormal([2, 6, lm.vocabSize], 0, 1, 'float32', 4);
  return {
    name,
    params: lm.params,
    loss: () => tf.sum(tf.mul(lm.forward(ids, { training: true }).logits, w)) as tf.Scalar,
    dispose: () => {
      lm.params.dispose();
      tf.dispose([ids, w]);
    },
    dropout: name === 'gpt2-tiny',
  };
}

/**
 * Every trainable parameter's gradient, flattened, with the dropout seed stream started at `seed`, and
 * the number of kernels run (checkpointing runs each block's forward twice).
 */
async function gradients(
  c: Case,
  checkpointing: boolean,
  seed: number,
): Promise<Map<string, Float32Array> & { kernels?: number }> {
  resetDropoutSeeds(seed);
  setGradientCheckpointing(checkpointing);
  const vars = new Map([...c.params.trainableByName()].filter(([n]) => !n.startsWith('pooler.'))); // the pooler is not in the loss
  const names = [...vars.keys()];
  let grads: tf.NamedTensorMap = {};
  const profile = await tf.profile(() => {
    const r = tf.variableGrads(
      c.loss,
      names.map((n) => vars.get(n)!),
    );
    r.value.dispose();
    grads = r.grads;
  });
  const out = new Map<string, Float32Array>();
  for (const n of names) {
    const g = grads[vars.get(n)!.name];
    expect(g, `gradient of ${n}`).toBeDefined();
    out.set(n, g!.dataSync() as Float32Array);
  }
  tf.dispose(grads);
  return Object.assign(out, { kernels: profile.kernels.length });
}

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let m = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

const maxAbs = (a: Map<string, Float32Array>) =>
  Math.max(...[...a.values()].map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));

afterEach(() => setGradientCheckpointing(false));

describe.skipIf(!existsSync(tiny))('gradient checkpointing leaves gradients unchanged (hf-tiny fixtures)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const name of ['bert-tiny', 'llama-tiny', 'gpt2-tiny']) {
      it(`${name} on ${backend}: every parameter gradient within ${TOL} of the one without checkpointing`, async () => {
        await initEngine({ backend });
        const c = await loadCase(name);
        try {
          const plain = await gradients(c, false, 11);
          const numTensors = tf.memory().numTensors;
          const ckpt = await gradients(c, true, 11);
          expect(tf.memory().numTensors).toBe(numTensors); // nothing leaked by the recomputation
          expect(maxAbs(plain)).toBeGreaterThan(1e-3);
          expect(ckpt.kernels!).toBeGreaterThan(plain.kernels! * 1.1); // the blocks really were recomputed
          const d = maxAbsDiff(plain, ckpt);
          console.log(
            `${name} on ${backend}: max |grad(ckpt) - grad(plain)| = ${d.toExponential(2)} over ${plain.size} tensors; kernels ${plain.kernels} -> ${ckpt.kernels}`,
          );
          expect(d).toBeLessThanOrEqual(TOL);
          if (c.dropout) expect(maxAbsDiff(plain, await gradients(c, false, 12))).toBeGreaterThan(1e-3); // other masks, other gradients
        } finally {
          c.dispose();
        }
      });
    }
  }

  it("the frugal backward pass gives the stock pass's gradients (bert-tiny, wasm)", async () => {
    await initEngine({ backend: 'wasm' });
    const c = await loadCase('bert-tiny');
    try {
      const frugal = await gradients(c, false, 5);
      installFrugalBackprop(false);
      const stock = await gradients(c, false, 5);
      expect(maxAbsDiff(frugal, stock)).toBeLessThanOrEqual(1e-6);
    } finally {
      installFrugalBackprop(true);
      c.dispose();
    }
  });
});
