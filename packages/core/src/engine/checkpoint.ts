/**
 * Activation (gradient) checkpointing (Chen et al., 2016, "Training Deep Nets with Sublinear Memory
 * Cost"): a block's forward keeps nothing for backprop but its inputs; its backward runs the forward
 * again under a fresh tape and takes the gradients of that recomputation. Memory held by backprop
 * drops from every intermediate of every block to the blocks' inputs plus one block's intermediates,
 * for one extra forward per block.
 *
 * `setGradientCheckpointing(true)` turns it on for the models' transformer blocks while training (the
 * trainer sets it per run); `trainingBlock` is what a model calls for each block while training. The
 * recomputed forward must give the same values as the first one, so every block call draws one seed
 * and the dropout sites inside it (`dropout`, `attention`) take seeds from it in call order
 * (`scopedDropoutSeed`): the recomputation replays the same masks, and a run with checkpointing draws
 * the same masks as one without.
 */
import * as tf from '@tensorflow/tfjs';

let enabled = false;
let seedCounter = 0x5eed;

/** Turns checkpointing of transformer blocks on or off (while training); returns the previous setting. */
export function setGradientCheckpointing(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/** Whether transformer blocks are checkpointed while training. */
export function gradientCheckpointing(): boolean {
  return enabled;
}

/**
 * A fresh seed for one dropout mask (a block takes `nextDropoutSeed()` once per call and offsets it per
 * dropout site), so a recomputed forward draws the same masks. `resetDropoutSeeds(n)` restarts the stream.
 */
export function nextDropoutSeed(): number {
  seedCounter = (seedCounter + 7919) % 2147483629;
  return seedCounter;
}

/** Restarts the dropout seed stream at `seed` (tests compare two runs with the same masks). */
export function resetDropoutSeeds(seed = 0x5eed): void {
  seedCounter = seed;
}

/** The seeds of the block being run: dropout sites inside it take the next one. */
let scope: { next: number } | null = null;

/** The seed for the next dropout mask inside a `trainingBlock`, or undefined outside one (unseeded). */
export function scopedDropoutSeed(): number | undefined {
  return scope ? scope.next++ : undefined;
}

function withDropoutSeeds<T>(seed: number, fn: () => T): T {
  const outer = scope;
  scope = { next: seed };
  try {
    return fn();
  } finally {
    scope = outer;
  }
}

/**
 * One transformer block while training: `fn(...inputs)` with its dropout masks seeded from one fresh
 * seed, checkpointed (see `checkpointBlock`) when `setGradientCheckpointing(true)` is on. `params` lists
 * the trainable variables `fn` reads (asked for only when checkpointing).
 *
 * @example
 *   h = training ? trainingBlock((x, b) => block.apply(x, b, true), [h, bias], () => store.trainableUnder(prefix)) : block.apply(h, bias, false);
 */
export function trainingBlock(
  fn: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  params: () => tf.Variable[],
): tf.Tensor {
  const seed = nextDropoutSeed();
  const run = (...xs: tf.Tensor[]) => withDropoutSeeds(seed, () => fn(...xs));
  return enabled ? checkpointBlock(run, inputs, params()) : run(...inputs);
}

/** The tfjs engine internals the recompute touches: the tape of the gradient being computed. */
interface EngineInternals {
  state: { activeTape: unknown };
  isTapeOn(): boolean;
  gradients(
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ): { value: tf.Tensor; grads: Array<tf.Tensor | undefined> };
}

/**
 * `fn(...inputs)` keeping only `inputs` for backprop. Gradients flow to `inputs` (float tensors) and to
 * `params` (the trainable variables `fn` reads); any other variable `fn` reads is a constant. Without a
 * gradient tape (inference) it is a plain call.
 *
 * @example
 *   x = checkpointBlock((h, b) => layer.apply(h, b, true, seed), [x, bias], layerParams);
 */
export function checkpointBlock(
  fn: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  params: tf.Variable[],
): tf.Tensor {
  const engine = tf.engine() as unknown as EngineInternals;
  if (!engine.isTapeOn()) return fn(...inputs);
  const n = inputs.length;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save(xs);
    const value = fn(...xs);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      // tfjs keeps one tape per engine: a gradient taken here would replace (and then drop) the tape of
      // the backward pass that is calling us. Keep it aside and put it back.
      const outerTape = engine.state.activeTape;
      try {
        const targets = [...saved, ...params];
        const { value: again, grads } = engine.gradients(() => fn(...saved), targets, dy, true);
        again.dispose();
        return targets.map((t, i) => grads[i] ?? tf.zeros(t.shape, 'float32'));
      } finally {
        engine.state.activeTape = outerTape;
      }
    };
    return { value, gradFunc };
  });
  return op(...inputs, ...params);
}
