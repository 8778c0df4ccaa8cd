import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ParamStore, Linear } from '@dalm/core';
import { train, microBatchIndices, type TrainTask } from '../src/loop/trainer';
import { readMetricLog } from '../src/loop/metric-log';
import { learningRateAt } from '../src/optim/schedule';
import { validateTrainLoopConfig } from '../src/loop/config';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** y = x·w* + 0.5 on 64 fixed points: a linear model must fit it. */
function regressionTask(seed = 3): { task: TrainTask<{ x: tf.Tensor2D; y: tf.Tensor2D }>; store: ParamStore } {
  const store = new ParamStore(seed);
  const lin = new Linear(store, 'lin', 4, 1);
  const xs = tf.randomNormal([64, 4], 0, 1, 'float32', 11);
  const wTrue = tf.tensor2d([[1], [-2], [0.5], [3]]);
  const ys = tf.add(tf.matMul(xs, wTrue), 0.5);
  const task: TrainTask<{ x: tf.Tensor2D; y: tf.Tensor2D }> = {
    params: { model: store },
    dataset: {
      size: 64,
      collate: (idx) => {
        const i = tf.tensor1d(idx, 'int32');
        const batch = { x: tf.gather(xs, i) as tf.Tensor2D, y: tf.gather(ys, i) as tf.Tensor2D };
        i.dispose();
        return batch;
      },
    },
    loss: (b) => {
      const l = tf.losses.meanSquaredError(b.y, lin.apply(b.x)) as tf.Scalar;
      return l;
    },
  };
  return { task, store };
}

describe('train (generic loop)', () => {
  it('fits a linear regression: loss falls by 100x and tensors do not leak', async () => {
    const { task } = regressionTask();
    const before = tf.memory().numTensors;
    const r = await train(task, {
      steps: 150,
      batchSize: 16,
      learningRate: 0.1,
      warmupSteps: 5,
      weightDecay: 0,
      quiet: true,
    });
    expect(r.losses.length).toBe(150);
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0] / 100);
    // batches, gradients and optimizer state are all released
    expect(tf.memory().numTensors - before).toBe(0);
  });

  it('averages gradients over accumulation steps (same update as one big batch)', async () => {
    const a = regressionTask(5);
    const b = regressionTask(5);
    // Accumulating 4 micro-batches of 16 over the whole 64-point set == one batch of 64 (same examples).
    await train(a.task, {
      steps: 1,
      batchSize: 16,
      gradAccumulation: 4,
      learningRate: 0.05,
      warmupSteps: 0,
      maxGradNorm: 0,
      quiet: true,
    });
    await train(b.task, {
      steps: 1,
      batchSize: 64,
      gradAccumulation: 1,
      learningRate: 0.05,
      warmupSteps: 0,
      maxGradNorm: 0,
      quiet: true,
    });
    const wa = a.store.get('lin.weight').dataSync();
    const wb = b.store.get('lin.weight').dataSync();
    wa.forEach((v, i) => expect(v).toBeCloseTo(wb[i], 5));
  });

  it('resumes from a checkpoint and ends with exactly the weights of an uninterrupted run', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-train-'));
    const full = regressionTask(9);
    await train(full.task, { steps: 20, batchSize: 8, learningRate: 0.05, quiet: true });
    const part = regressionTask(9);
    await train(part.task, {
      steps: 10,
      batchSize: 8,
      learningRate: 0.05,
      quiet: true,
      runDir: dir,
      checkpointEvery: 5,
    });
    // "crash" after step 10; a fresh process would rebuild the model from scratch, then resume:
    const resumed = regressionTask(9);
    const r = await train(resumed.task, {
      steps: 20,
      batchSize: 8,
      learningRate: 0.05,
      quiet: true,
      runDir: dir,
      checkpointEvery: 5,
    });
    expect(r.startStep).toBe(10);
    const a = full.store.get('lin.weight').dataSync();
    const b = resumed.store.get('lin.weight').dataSync();
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 6));
    // keepCheckpoints (2) old ones are pruned; the log has step lines and a resume event
    expect(readdirSync(path.join(dir, 'checkpoints'))).toEqual(['step-000015', 'step-000020']);
    const log = await readMetricLog(path.join(dir, 'metrics.jsonl'));
    expect(log.some((l) => l.event === 'resume' && l.step === 10)).toBe(true);
    expect(log.filter((l) => typeof l.loss === 'number').length).toBeGreaterThanOrEqual(2);
    expect(existsSync(path.join(dir, 'checkpoints', 'step-000020', 'optimizer.safetensors'))).toBe(true);
  });

  it('refuses to resume with a different seed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-train-'));
    await train(regressionTask().task, { steps: 2, batchSize: 8, quiet: true, runDir: dir });
    await expect(
      train(regressionTask().task, { steps: 4, batchSize: 8, seed: 7, quiet: true, runDir: dir }),
    ).rejects.toThrow(/differs from the checkpoint in seed \(42 -> 7\)/);
  });
});

describe('resume guards', () => {
  it('refuses a resume whose data or learning rate changed, naming them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-train-'));
    const withData = (data: unknown) => ({ ...regressionTask().task, inputs: { data } });
    await train(withData(['a', 'b']), { steps: 2, batchSize: 8, quiet: true, runDir: dir });
    await expect(train(withData(['a', 'B']), { steps: 4, batchSize: 8, quiet: true, runDir: dir })).rejects.toThrow(
      /differs from the checkpoint in data\. .*new --run-dir/,
    );
    await expect(
      train(withData(['a', 'b']), { steps: 4, batchSize: 8, learningRate: 0.5, quiet: true, runDir: dir }),
    ).rejects.toThrow(/in optimizer\/schedule settings/);
    // Same inputs, more steps: resumes.
    expect((await train(withData(['a', 'b']), { steps: 4, batchSize: 8, quiet: true, runDir: dir })).startStep).toBe(2);
  });

  it('falls back to the previous checkpoint when the latest is unreadable, and counts no negative leak', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-train-'));
    await train(regressionTask(9).task, {
      steps: 10,
      batchSize: 8,
      learningRate: 0.05,
      quiet: true,
      runDir: dir,
      checkpointEvery: 5,
    });
    writeFileSync(path.join(dir, 'checkpoints', 'step-000010', 'model.safetensors'), 'truncated');
    const r = await train(regressionTask(9).task, {
      steps: 12,
      batchSize: 8,
      learningRate: 0.05,
      quiet: true,
      runDir: dir,
      checkpointEvery: 5,
    });
    expect(r.startStep).toBe(5);
    const log = await readMetricLog(path.join(dir, 'metrics.jsonl'));
    expect(log.some((l) => l.event === 'checkpoint_unreadable' && String(l.dir).endsWith('step-000010'))).toBe(true);
    expect(log.filter((l) => l.event === 'end').at(-1)!.leaked_tensors).toBe(0);
  });
});

describe('data order, schedule and config', () => {
  it('covers every example once per epoch and is reproducible', () => {
    const seen = [0, 1, 2, 3].flatMap((g) => microBatchIndices(g, 5, 20, 1));
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(microBatchIndices(2, 5, 20, 1)).toEqual(microBatchIndices(2, 5, 20, 1));
    expect(microBatchIndices(0, 5, 20, 1)).not.toEqual(microBatchIndices(0, 5, 20, 2));
  });
  it('warms up linearly and decays to the floor', () => {
    const c = { learningRate: 1, warmupSteps: 4, totalSteps: 14, decay: 'linear' as const, minRatio: 0.1 };
    expect(learningRateAt(0, c)).toBeCloseTo(0.25);
    expect(learningRateAt(3, c)).toBeCloseTo(1);
    expect(learningRateAt(9, c)).toBeCloseTo(0.1 + 0.9 * 0.5);
    expect(learningRateAt(14, c)).toBeCloseTo(0.1);
    expect(learningRateAt(9, { ...c, decay: 'cosine' })).toBeCloseTo(0.1 + 0.9 * 0.5);
  });
  it('rejects bad options naming the field', () => {
    expect(() => validateTrainLoopConfig({ steps: 0 })).toThrow(/steps must be an integer >= 1/);
    expect(() => validateTrainLoopConfig({ decay: 'exp' as never })).toThrow(
      /decay must be one of linear, cosine, constant/,
    );
    expect(() => validateTrainLoopConfig({ checkpointEvery: 5 })).toThrow(/needs runDir/);
  });
});
