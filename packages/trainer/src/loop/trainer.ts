/**
 * The one generic training loop. It knows nothing about retrievers or generators: a recipe hands
 * it named parameter groups, a dataset that collates examples by index, and either a loss function
 * (differentiated here) or a gradient function (for recipes such as GradCache that compute
 * gradients in several passes). The loop owns data order (a seeded permutation per epoch, so a
 * resumed run sees the same batches), gradient accumulation, global-norm clipping, the learning-rate
 * schedule, AdamW, checkpoints with resume, the metrics log, evaluation and the progress display.
 *
 * @example
 * const result = await train({ params: { model: store }, dataset, loss: (b) => mse(model(b.x), b.y) },
 *   { steps: 200, batchSize: 32, learningRate: 3e-4, runDir: 'runs/demo' });
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import {
  epochPermutation,
  mixSeed,
  explainOutOfMemory,
  OutOfMemoryError,
  Progress,
  resetDropoutSeeds,
  setGradientCheckpointing,
  trainingMemoryLimitBytes,
  type ParamStore,
} from '@dalm/core';
import { AdamW, defaultDecays } from '../optim/adamw';
import { clipByGlobalNorm } from '../optim/clip';
import { learningRateAt } from '../optim/schedule';
import { validateTrainLoopConfig, type TrainLoopConfig } from './config';
import { listCheckpoints, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint';
import { MetricLog } from './metric-log';

/** Examples addressed by index; `collate` builds one micro-batch (tensors in it are disposed by the loop after the step). */
export interface Dataset<B> {
  size: number;
  collate(indices: number[], ctx: StepContext): B | Promise<B>;
}

export interface StepContext {
  /** Optimizer step being computed (0-based). */
  step: number;
  /** Micro-batch within the step (0..gradAccumulation-1). */
  micro: number;
  training: boolean;
}

/** Loss of one micro-batch plus optional scalars to log (means over micro-batches are logged). */
export type LossOutput = tf.Scalar | { loss: tf.Scalar; metrics?: Record<string, tf.Scalar> };

export interface GradientOutput {
  loss: number;
  /** Gradients by full parameter name `<group>/<param>`; the loop disposes them. */
  grads: Map<string, tf.Tensor>;
  metrics?: Record<string, number>;
}

export interface TrainTask<B> {
  /** Parameter groups by name (e.g. { retriever, generator }); trainable variables are updated. */
  params: Record<string, ParamStore>;
  dataset: Dataset<B>;
  /** Scalar loss for one micro-batch; evaluated under tf.variableGrads. */
  loss?: (batch: B, ctx: StepContext) => LossOutput;
  /** Alternative to `loss`: compute the gradients yourself. */
  gradients?: (batch: B, ctx: StepContext, vars: Map<string, tf.Variable>) => Promise<GradientOutput>;
  /** Evaluation, run every `evalEvery` steps and at the end. */
  evaluate?: (step: number) => Promise<Record<string, number>>;
  /** Called after each optimizer step (e.g. to rebuild an index); may return values to log. */
  afterStep?: (step: number) => Promise<Record<string, unknown> | undefined>;
  /**
   * What the run trains on, by name (e.g. `{ data: pairs, tokenizer: tok.toJSON(), recipe: config }`):
   * hashed into each checkpoint, and a resume whose inputs hash differently is refused, naming them.
   */
  inputs?: Record<string, unknown>;
  /** Memory one micro-batch's backprop needs, to decide gradient checkpointing and fail early with advice. */
  memory?: TrainMemory;
  /** Recipe state to keep in checkpoints, and to restore on resume. */
  saveExtra?: () => Record<string, unknown>;
  restoreExtra?: (extra: Record<string, unknown>) => void;
}

/** What a task says about its memory use (see core engine/memory.ts). */
export interface TrainMemory {
  /** Bytes a micro-batch's forward + backward + optimizer step needs at most. */
  estimateBytes(checkpointing: boolean): number;
  /** Settings that lower it, as the user types them (e.g. '--grad-cache-chunk', '--batch-size'). */
  advice: readonly string[];
}

/** The settings that lower training memory, in the words of the CLI. */
export const MEMORY_ADVICE = ['--batch-size', '--max-seq-length', '--gradient-checkpointing on'] as const;

/** Share of the memory limit a micro-batch's estimate may use (the estimate is approximate; the heap also holds the data). */
export const MEMORY_HEADROOM = 0.85;

/** The gradient-checkpointing decision of a run, and the estimate behind it. */
export interface MemoryPlan {
  checkpointing: boolean;
  /** Estimated bytes of a micro-batch with the chosen setting (null without an estimate). */
  estimateBytes: number | null;
  /** The backend's limit (null: unbounded). */
  limitBytes: number | null;
}

/**
 * Resolves `gradientCheckpointing` ('auto': on when the estimate without it exceeds the limit) and
 * throws an `OutOfMemoryError` naming the settings to lower when even the chosen setting would not fit.
 */
export function planMemory(
  mode: TrainLoopConfig['gradientCheckpointing'],
  memory: TrainMemory | undefined,
  what = 'train',
): MemoryPlan {
  const limit = trainingMemoryLimitBytes();
  const budget = limit == null ? null : limit * MEMORY_HEADROOM;
  let checkpointing = mode === 'on';
  if (mode === 'auto' && memory && budget != null) checkpointing = memory.estimateBytes(false) > budget;
  const estimate = memory ? memory.estimateBytes(checkpointing) : null;
  if (estimate != null && budget != null && estimate > budget) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    const advice = memory!.advice.filter((a) => !(checkpointing && a.startsWith('--gradient-checkpointing')));
    throw new OutOfMemoryError(
      `${what}: one micro-batch needs ~${gib(estimate)} (gradient checkpointing ${checkpointing ? 'on' : 'off'}), more than ` +
        `${Math.round(MEMORY_HEADROOM * 100)}% of the ${gib(limit!)} wasm heap; lower ${advice.slice(0, -1).join(', ')}${advice.length > 1 ? ', or ' : ''}${advice.at(-1)}`,
      null,
    );
  }
  return { checkpointing, estimateBytes: estimate, limitBytes: limit };
}

export interface StepInfo {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  metrics: Record<string, number>;
}

export interface TrainCallbacks {
  onStep?: (info: StepInfo) => void;
  onEval?: (step: number, metrics: Record<string, number>) => void;
  onCheckpoint?: (step: number, dir: string) => void;
}

export interface TrainResult {
  /** Steps completed in total (including steps before a resume). */
  steps: number;
  /** Step at which this call started (0, or the resumed checkpoint's step). */
  startStep: number;
  /** Loss of every step run in this call, in order. */
  losses: number[];
  /** Last evaluation, if the task has one. */
  eval: Record<string, number> | null;
  /** Directory of the last checkpoint written, if any. */
  checkpoint: string | null;
}

/** Indices of global micro-batch `g`: a contiguous slice of the concatenated epoch permutations. */
export function microBatchIndices(g: number, batchSize: number, size: number, seed: number): number[] {
  const out: number[] = [];
  let pos = g * batchSize;
  let epoch = -1;
  let perm: number[] = [];
  while (out.length < batchSize) {
    const e = Math.floor(pos / size);
    if (e !== epoch) {
      epoch = e;
      perm = epochPermutation(size, seed, e);
    }
    out.push(perm[pos % size]);
    pos++;
  }
  return out;
}

/**
 * Runs the loop. Gradient checkpointing is decided once (`planMemory`) and set for the run; a wasm
 * out-of-memory failure in a step becomes an `OutOfMemoryError` naming the settings to lower.
 */
export async function train<B>(
  task: TrainTask<B>,
  partialConfig: Partial<TrainLoopConfig> = {},
  callbacks: TrainCallbacks = {},
): Promise<TrainResult> {
  const config = validateTrainLoopConfig(partialConfig);
  if (!task.loss && !task.gradients) throw new Error('train: the task needs a loss or a gradients function');
  if (task.dataset.size < 1) throw new Error('train: the dataset is empty');
  const plan = planMemory(config.gradientCheckpointing, task.memory, config.label);
  const previous = setGradientCheckpointing(plan.checkpointing);
  try {
    return await runLoop(task, config, callbacks, task.memory?.advice ?? MEMORY_ADVICE);
  } finally {
    setGradientCheckpointing(previous);
  }
}

async function runLoop<B>(
  task: TrainTask<B>,
  config: TrainLoopConfig,
  callbacks: TrainCallbacks,
  advice: readonly string[],
): Promise<TrainResult> {
  // Trainable variables by full name "<group>/<param>".
  const vars = new Map<string, tf.Variable>();
  for (const [group, store] of Object.entries(task.params)) {
    for (const [name, v] of store.trainableByName()) vars.set(`${group}/${name}`, v);
  }
  if (vars.size === 0) throw new Error('train: no trainable parameters');
  const optimizer = new AdamW(
    { beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon, weightDecay: config.weightDecay },
    (full) => defaultDecays(full.slice(full.indexOf('/') + 1)),
  );
  const log = new MetricLog(config.runDir);

  const numTensorsAtStart = tf.memory().numTensors; // before a resume loads optimizer state (freed at the end)
  const inputs = inputHashes(task.inputs, config);
  let startStep = 0;
  if (config.runDir && config.resume) {
    const checkpoints = await listCheckpoints(config.runDir);
    // Newest first; a checkpoint that cannot be read (truncated file, bad JSON) falls back to the one before.
    for (let i = checkpoints.length - 1; i >= 0; i--) {
      const latest = checkpoints[i]!;
      let state: TrainerState;
      try {
        state = await loadCheckpoint(latest.dir, task.params, optimizer);
      } catch (e) {
        const fallback = i > 0 ? `; resuming from ${checkpoints[i - 1]!.dir} instead` : '; starting from scratch';
        process.stderr.write(
          `dalm: warning: checkpoint ${latest.dir} is unreadable (${(e as Error).message})${fallback}\n`,
        );
        await log.write({ event: 'checkpoint_unreadable', dir: latest.dir, error: (e as Error).message });
        continue;
      }
      checkResumable(latest.dir, state, config, inputs);
      if (state.extra && task.restoreExtra) task.restoreExtra(state.extra);
      startStep = state.step;
      await log.write({ event: 'resume', step: startStep, from: latest.dir });
      break;
    }
  }

  const progress = new Progress(config.label, config.steps, { silent: config.quiet });
  progress.start(startStep);
  const losses: number[] = [];
  let lastEval: Record<string, number> | null = null;
  let lastCheckpoint: string | null = null;

  const checkpoint = async (step: number) => {
    if (!config.runDir) return;
    const state: TrainerState = {
      step,
      seed: config.seed,
      batchSize: config.batchSize,
      gradAccumulation: config.gradAccumulation,
      inputs,
      extra: task.saveExtra?.(),
    };
    lastCheckpoint = await saveCheckpoint(config.runDir, task.params, optimizer, state, config.keepCheckpoints);
    await log.write({ event: 'checkpoint', step, dir: lastCheckpoint });
    callbacks.onCheckpoint?.(step, lastCheckpoint);
  };

  const evaluate = async (step: number) => {
    if (!task.evaluate) return;
    lastEval = await task.evaluate(step);
    await log.write({ event: 'eval', step, ...lastEval });
    callbacks.onEval?.(step, lastEval);
  };

  for (let step = startStep; step < config.steps; step++) {
    const t0 = Date.now();
    try {
      const accumulated = new Map<string, tf.Tensor>();
      let lossSum = 0;
      const metricSums: Record<string, number> = {};
      for (let micro = 0; micro < config.gradAccumulation; micro++) {
        const ctx: StepContext = { step, micro, training: true };
        const g = step * config.gradAccumulation + micro;
        resetDropoutSeeds(mixSeed(config.seed, g) || 1); // masks depend on the run's seed and position only (same after a resume)
        const batch = await task.dataset.collate(
          microBatchIndices(g, config.batchSize, task.dataset.size, config.seed),
          ctx,
        );
        const out = task.gradients
          ? await task.gradients(batch, ctx, vars)
          : await differentiate(task.loss!, batch, ctx, vars);
        tf.dispose(batch as unknown as tf.TensorContainer); // the loop owns collated batches
        lossSum += out.loss;
        for (const [k, v] of Object.entries(out.metrics ?? {})) metricSums[k] = (metricSums[k] ?? 0) + v;
        for (const [name, grad] of out.grads) {
          const prev = accumulated.get(name);
          if (prev) {
            accumulated.set(name, tf.add(prev, grad));
            prev.dispose();
            grad.dispose();
          } else accumulated.set(name, grad);
        }
      }
      if (config.gradAccumulation > 1) {
        for (const [name, grad] of accumulated) {
          accumulated.set(name, tf.div(grad, config.gradAccumulation));
          grad.dispose();
        }
      }
      const { grads, norm } = await clipByGlobalNorm(accumulated, config.maxGradNorm);
      for (const g of accumulated.values()) g.dispose();
      const lr = learningRateAt(step, {
        learningRate: config.learningRate,
        warmupSteps: config.warmupSteps,
        totalSteps: config.steps,
        decay: config.decay,
        minRatio: config.minLrRatio,
      });
      optimizer.apply(vars, grads, lr);
      for (const store of Object.values(task.params)) store.markChanged(); // caches of the weights (fingerprints) see the step
      for (const g of grads.values()) g.dispose();

      const loss = lossSum / config.gradAccumulation;
      if (!Number.isFinite(loss)) {
        throw new Error(`train: loss is ${loss} at step ${step + 1}; lower the learning rate or check the data`);
      }
      losses.push(loss);
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(metricSums)) metrics[k] = v / config.gradAccumulation;
      const done = step + 1;
      const extraLog = (await task.afterStep?.(done)) ?? {};
      callbacks.onStep?.({ step: done, loss, lr, gradNorm: norm, metrics });
      if (done % config.logEvery === 0 || done === config.steps || Object.keys(extraLog).length) {
        await log.write({ step: done, loss, lr, grad_norm: norm, step_ms: Date.now() - t0, ...metrics, ...extraLog });
      }
      progress.update(done, { loss, lr });
      const isLast = done === config.steps;
      if (config.evalEvery > 0 && done % config.evalEvery === 0 && !isLast) await evaluate(done);
      if (config.checkpointEvery > 0 && done % config.checkpointEvery === 0 && !isLast) await checkpoint(done);
    } catch (e) {
      throw explainOutOfMemory(e, `${config.label}: step ${step + 1}`, advice);
    }
  }
  if (startStep < config.steps || !lastEval) await evaluate(config.steps);
  if (startStep < config.steps) await checkpoint(config.steps);
  resetDropoutSeeds(); // back to the default stream outside training
  progress.done(losses.length ? `final loss ${losses.at(-1)!.toFixed(4)}` : 'nothing to do (already at the last step)');
  optimizer.dispose();
  await log.write({ event: 'end', step: config.steps, leaked_tensors: tf.memory().numTensors - numTensorsAtStart });
  return { steps: config.steps, startStep, losses, eval: lastEval, checkpoint: lastCheckpoint };
}

/** Loop settings that change what is trained (not how long, or where it is logged). */
const RESUME_RELEVANT: readonly (keyof TrainLoopConfig)[] = [
  'learningRate',
  'warmupSteps',
  'decay',
  'minLrRatio',
  'weightDecay',
  'maxGradNorm',
  'beta1',
  'beta2',
  'epsilon',
];

/** sha256 (hex, 16 chars) of each named input, and of the loop settings that shape training. */
function inputHashes(inputs: Record<string, unknown> | undefined, config: TrainLoopConfig): Record<string, string> {
  const hash = (v: unknown) =>
    createHash('sha256')
      .update(JSON.stringify(v) ?? 'undefined')
      .digest('hex')
      .slice(0, 16);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(inputs ?? {})) out[name] = hash(value);
  out.loop = hash(Object.fromEntries(RESUME_RELEVANT.map((k) => [k, config[k]])));
  return out;
}

/** Refuses a resume whose seed, batch layout or inputs differ from the checkpoint's, naming what changed. */
function checkResumable(
  dir: string,
  state: TrainerState,
  config: TrainLoopConfig,
  inputs: Record<string, string>,
): void {
  const changed: string[] = [];
  if (state.seed !== config.seed) changed.push(`seed (${state.seed} -> ${config.seed})`);
  if (state.batchSize !== config.batchSize) changed.push(`batchSize (${state.batchSize} -> ${config.batchSize})`);
  if (state.gradAccumulation !== config.gradAccumulation)
    changed.push(`gradAccumulation (${state.gradAccumulation} -> ${config.gradAccumulation})`);
  if (state.inputs) {
    for (const name of new Set([...Object.keys(state.inputs), ...Object.keys(inputs)])) {
      if (state.inputs[name] !== inputs[name]) changed.push(name === 'loop' ? 'optimizer/schedule settings' : name);
    }
  }
  if (changed.length > 0) {
    throw new Error(
      `resume from ${dir}: this run differs from the checkpoint in ${changed.join(', ')}. ` +
        'Rerun with the same inputs and settings, or use a new --run-dir (or drop --resume) to start afresh.',
    );
  }
}

/** Runs `loss` under tf.variableGrads and returns gradients by full name (loss and metrics read asynchronously). */
async function differentiate<B>(
  lossFn: (batch: B, ctx: StepContext) => LossOutput,
  batch: B,
  ctx: StepContext,
  vars: Map<string, tf.Variable>,
): Promise<GradientOutput> {
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n)!);
  let metricTensors: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const out = lossFn(batch, ctx);
    if (out instanceof tf.Tensor) return out;
    metricTensors = Object.fromEntries(Object.entries(out.metrics ?? {}).map(([k, t]) => [k, tf.keep(t)]));
    return out.loss;
  }, list);
  const entries = Object.entries(metricTensors);
  const [lossData, ...metricData] = await Promise.all([value.data(), ...entries.map(([, t]) => t.data())]);
  const loss = lossData[0] as number;
  value.dispose();
  const metrics: Record<string, number> = {};
  entries.forEach(([k, t], i) => {
    metrics[k] = metricData[i]![0] as number;
    t.dispose();
  });
  const byName = new Map<string, tf.Tensor>();
  for (const n of names) {
    const v = vars.get(n)!;
    const g = grads[v.name];
    if (g) byName.set(n, g);
  }
  return { loss, grads: byName, metrics };
}
