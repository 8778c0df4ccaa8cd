/** Configuration of the generic training loop, shared by every recipe (retriever, generator, end-to-end). */
import { SCHEDULE_DECAYS } from '../optim/schedule';

export interface TrainLoopConfig {
  /** Optimizer steps to run in total (a resumed run continues up to this). */
  steps: number;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches whose gradients are averaged into one optimizer step. */
  gradAccumulation: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Linear warmup steps. */
  warmupSteps: number;
  /** Learning-rate shape after warmup. */
  decay: 'linear' | 'cosine' | 'constant';
  /** Final learning rate as a share of the peak. */
  minLrRatio: number;
  /** AdamW decoupled weight decay (not applied to biases and norms). */
  weightDecay: number;
  /** AdamW β1. */
  beta1: number;
  /** AdamW β2. */
  beta2: number;
  /** AdamW ε. */
  epsilon: number;
  /** Clip gradients to this global L2 norm; 0 disables clipping. */
  maxGradNorm: number;
  /** Seed of the data order (and of anything else the recipe derives from it). */
  seed: number;
  /** Write a metrics line every N steps. */
  logEvery: number;
  /** Run the task's evaluation every N steps (0: only at the end). */
  evalEvery: number;
  /** Save a checkpoint every N steps (0: only at the end); needs `runDir`. */
  checkpointEvery: number;
  /** How many recent checkpoints to keep. */
  keepCheckpoints: number;
  /** Run directory for checkpoints and `metrics.jsonl`; null keeps everything in memory. */
  runDir: string | null;
  /** Continue from the latest checkpoint in `runDir` if there is one. */
  resume: boolean;
  /**
   * Recompute each transformer block's forward in the backward instead of keeping its intermediates
   * (core checkpoint.ts): 'on', 'off', or 'auto' (on when the task's memory estimate says a micro-batch
   * would not fit the backend's memory, e.g. the 4 GiB wasm heap).
   */
  gradientCheckpointing: GradientCheckpointingMode;
  /** Label of the progress display. */
  label: string;
  /** Silence the progress display. */
  quiet: boolean;
}

/** Values of `TrainLoopConfig.gradientCheckpointing`. */
export const GRADIENT_CHECKPOINTING_MODES = ['auto', 'on', 'off'] as const;
export type GradientCheckpointingMode = (typeof GRADIENT_CHECKPOINTING_MODES)[number];

export const DEFAULT_TRAIN_LOOP_CONFIG: Readonly<TrainLoopConfig> = Object.freeze({
  steps: 100,
  batchSize: 16,
  gradAccumulation: 1,
  learningRate: 1e-3,
  warmupSteps: 10,
  decay: 'linear',
  minLrRatio: 0,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  maxGradNorm: 1,
  seed: 42,
  logEvery: 10,
  evalEvery: 0,
  checkpointEvery: 0,
  keepCheckpoints: 2,
  runDir: null,
  resume: true,
  gradientCheckpointing: 'auto',
  label: 'train',
  quiet: false,
});

/** Fills defaults and checks every field; errors name the field and what is valid. */
export function validateTrainLoopConfig(partial: Partial<TrainLoopConfig> = {}): TrainLoopConfig {
  const c: TrainLoopConfig = { ...DEFAULT_TRAIN_LOOP_CONFIG, ...stripUndefined(partial) };
  const positiveInts: (keyof TrainLoopConfig)[] = ['steps', 'batchSize', 'gradAccumulation', 'keepCheckpoints'];
  for (const k of positiveInts) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new Error(`train config: ${k} must be an integer >= 1, got ${v}`);
  }
  const nonNegInts: (keyof TrainLoopConfig)[] = ['warmupSteps', 'logEvery', 'evalEvery', 'checkpointEvery', 'seed'];
  for (const k of nonNegInts) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 0) throw new Error(`train config: ${k} must be an integer >= 0, got ${v}`);
  }
  if (!(c.learningRate > 0)) throw new Error(`train config: learningRate must be > 0, got ${c.learningRate}`);
  if (!(c.maxGradNorm >= 0)) throw new Error(`train config: maxGradNorm must be >= 0, got ${c.maxGradNorm}`);
  if (!(c.weightDecay >= 0)) throw new Error(`train config: weightDecay must be >= 0, got ${c.weightDecay}`);
  if (!(c.minLrRatio >= 0 && c.minLrRatio <= 1))
    throw new Error(`train config: minLrRatio must be in [0, 1], got ${c.minLrRatio}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) {
    throw new Error(`train config: beta1 and beta2 must be in [0, 1), got ${c.beta1}, ${c.beta2}`);
  }
  if (!(SCHEDULE_DECAYS as readonly string[]).includes(c.decay)) {
    throw new Error(`train config: decay must be one of ${SCHEDULE_DECAYS.join(', ')}, got "${c.decay}"`);
  }
  if (!(GRADIENT_CHECKPOINTING_MODES as readonly string[]).includes(c.gradientCheckpointing)) {
    throw new Error(
      `train config: gradientCheckpointing must be one of ${GRADIENT_CHECKPOINTING_MODES.join(', ')}, got "${c.gradientCheckpointing}"`,
    );
  }
  if (c.checkpointEvery > 0 && !c.runDir) throw new Error('train config: checkpointEvery needs runDir');
  return c;
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A recipe's own settings without the loop's (steps, logging, run directory…), for the input hashes
 * checked on resume: running longer or logging elsewhere is not a change of what is trained.
 */
export function recipeSettings(config: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config).filter(([k]) => !(k in DEFAULT_TRAIN_LOOP_CONFIG) && k !== 'quiet' && k !== 'label'),
  );
}
