import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { infoNceLoss } from '../src/losses/info-nce';
import { maskedTokenNll, sequenceLogLikelihood } from '../src/losses/token-nll';
import { ragSequenceLoss } from '../src/losses/rag-sequence';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const lse = (xs: number[]) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0));

describe('infoNceLoss', () => {
  it('equals the hand-computed 2x2 case with in-batch negatives', () => {
    const q = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const p = tf.tensor2d([
      [0.6, 0.8],
      [0, 1],
    ]);
    // scores: q0 = [0.6, 0], q1 = [0.8, 1]; scale 2
    const l0 = -(1.2 - lse([1.2, 0]));
    const l1 = -(2 - lse([1.6, 2]));
    expect(infoNceLoss(q, p, { scale: 2, symmetric: false }).dataSync()[0]).toBeCloseTo((l0 + l1) / 2, 5);
  });
  it('counts hard negatives in the denominator and adds the symmetric term', () => {
    const q = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const p = tf.tensor2d([
      [1, 0],
      [0, 1],
      [0.5, 0.5],
    ]);
    const l0 = -(1 - lse([1, 0, 0.5]));
    const l1 = -(1 - lse([0, 1, 0.5]));
    expect(infoNceLoss(q, p, { scale: 1, symmetric: false }).dataSync()[0]).toBeCloseTo((l0 + l1) / 2, 5);
    const back = -(1 - lse([1, 0])); // both rows identical by symmetry
    expect(infoNceLoss(q, p, { scale: 1, symmetric: true }).dataSync()[0]).toBeCloseTo(((l0 + l1) / 2 + back) / 2, 5);
  });
});

describe('token losses', () => {
  it('mask out prompt tokens', () => {
    // B=1, T=2, V=2; logits favour token 0 at t=0 and token 1 at t=1
    const logits = tf.tensor3d([
      [
        [2, 0],
        [0, 1],
      ],
    ]);
    const targets = tf.tensor2d([[0, 0]], [1, 2], 'int32');
    const lp0 = 2 - lse([2, 0]);
    const lp1 = 0 - lse([0, 1]);
    expect(sequenceLogLikelihood(logits, targets, tf.tensor2d([[1, 1]])).dataSync()[0]).toBeCloseTo(lp0 + lp1, 5);
    expect(maskedTokenNll(logits, targets, tf.tensor2d([[0, 1]])).dataSync()[0]).toBeCloseTo(-lp1, 5);
  });
});

describe('ragSequenceLoss', () => {
  it('is −log Σ softmax(s/τ)·p(y|d)', () => {
    const s = tf.tensor2d([[1, 0]]);
    const ll = tf.tensor2d([[Math.log(0.5), Math.log(0.1)]]);
    const prior = [Math.exp(2) / (Math.exp(2) + 1), 1 / (Math.exp(2) + 1)]; // τ = 0.5
    const expected = -Math.log(prior[0] * 0.5 + prior[1] * 0.1);
    expect(ragSequenceLoss(s, ll, 0.5).dataSync()[0]).toBeCloseTo(expected, 5);
  });
  it('sends gradient to the retriever scores toward the passage that explains the answer', () => {
    const s = tf.tensor2d([[0, 0]]);
    const ll = tf.tensor2d([[Math.log(0.9), Math.log(0.01)]]);
    const g = tf
      .grad((x: tf.Tensor) => ragSequenceLoss(x as tf.Tensor2D, ll, 1))(s)
      .dataSync();
    expect(g[0]).toBeLessThan(-0.4); // raising s_0 lowers the loss
    expect(g[1]).toBeGreaterThan(0.4);
  });
});
