/**
 * A flat, named store of model parameters.
 *
 * Names are the Hugging Face tensor names (`encoder.layer.0.attention.self.query.weight`), so a
 * store maps one-to-one onto a `model.safetensors` file. Linear weights are kept in memory as
 * `[in, out]` (so forward passes are `x · W` with no transposed matmul, which the wasm backend
 * runs ~10x slower) and transposed to PyTorch's `[out, in]` only when written to or read from disk:
 * parameters created with `transposeOnDisk: true` carry that flag.
 */
import * as tf from '@tensorflow/tfjs';

/** How a new parameter is initialised. */
export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number };

export interface ParamOptions {
  /** Initial values (default: normal with std 0.02, as HF initialises). */
  init?: Init;
  /** Stored as `[out, in]` on disk and `[in, out]` in memory (2-D only). Default false. */
  transposeOnDisk?: boolean;
  /** Whether the optimizer updates it. Default true. */
  trainable?: boolean;
}

/** tfjs variable names are global to the engine: every store's variables get a unique suffix. */
let variableCounter = 0;

interface Entry {
  variable: tf.Variable;
  transposeOnDisk: boolean;
  trainable: boolean;
}

/** A tensor as it is stored on disk: shape and row-major float data. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Stands in for seed 0, which tfjs would treat as no seed at all. */
const ZERO_SEED = 0x5eed0;

export class ParamStore {
  private readonly entries = new Map<string, Entry>();
  private seed: number;
  private changes = 0;

  /** @param seed base seed for parameter initialisation; each new parameter takes the next one. */
  constructor(seed = 0) {
    this.seed = seed;
  }

  /**
   * A counter that grows whenever the parameters (their set or their values) may have changed:
   * `create`, `loadHost`, `copyFrom`, and every `markChanged()` (the training loop calls it after
   * each optimizer step). Whatever caches something derived from the weights (an encoder's
   * fingerprint) compares versions instead of being told to refresh.
   */
  get version(): number {
    return this.changes;
  }

  /** Records that values were assigned outside this store's own methods (an optimizer step, a LoRA merge). */
  markChanged(): void {
    this.changes++;
  }

  /** Creates a parameter; throws if the name exists. */
  create(name: string, shape: number[], opts: ParamOptions = {}): tf.Variable {
    if (this.entries.has(name)) throw new Error(`parameter "${name}" is already defined`);
    const init = opts.init ?? { kind: 'normal', std: 0.02 };
    const seed = this.seed++;
    this.changes++;
    const value = tf.tidy(() => {
      switch (init.kind) {
        case 'normal':
          // tfjs reads seed 0 as "unseeded" (Math.random): map it to a fixed non-zero value.
          return tf.randomNormal(shape, 0, init.std, 'float32', seed === 0 ? ZERO_SEED : seed);
        case 'zeros':
          return tf.zeros(shape);
        case 'ones':
          return tf.ones(shape);
        case 'constant':
          return tf.fill(shape, init.value);
      }
    });
    const trainable = opts.trainable ?? true;
    const variable = tf.variable(value, trainable, `${name}#${variableCounter++}`);
    value.dispose();
    const transposeOnDisk = opts.transposeOnDisk ?? false;
    if (transposeOnDisk && shape.length !== 2) {
      throw new Error(`parameter "${name}": transposeOnDisk needs a 2-D shape, got [${shape}]`);
    }
    this.entries.set(name, { variable, transposeOnDisk, trainable });
    return variable;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): tf.Variable {
    const e = this.entries.get(name);
    if (!e) throw new Error(`no parameter named "${name}"`);
    return e.variable;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Variables the optimizer should update, in a stable (insertion) order. */
  trainableVariables(): tf.Variable[] {
    return [...this.entries.values()].filter((e) => e.trainable).map((e) => e.variable);
  }

  /** Trainable variables by parameter name (for optimizers that keep per-parameter state). */
  trainableByName(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [name, e] of this.entries) if (e.trainable) out.set(name, e.variable);
    return out;
  }

  /** Trainable variables whose names start with `prefix.` (one block's, for gradient checkpointing). */
  trainableUnder(prefix: string): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const [name, e] of this.entries) if (e.trainable && name.startsWith(`${prefix}.`)) out.push(e.variable);
    return out;
  }

  /** Freezes or unfreezes parameters whose name passes `filter`. */
  setTrainable(trainable: boolean, filter: (name: string) => boolean = () => true): void {
    for (const [name, e] of this.entries) {
      if (!filter(name)) continue;
      e.trainable = trainable;
      e.variable.trainable = trainable;
    }
  }

  /** Total number of scalar parameters (optionally only trainable ones). */
  count(onlyTrainable = false): number {
    let n = 0;
    for (const e of this.entries.values()) if (!onlyTrainable || e.trainable) n += e.variable.size;
    return n;
  }

  /**
   * Copies every parameter out in its on-disk layout (PyTorch `[out, in]` for linear weights).
   * Reads synchronously, which webgpu under Node cannot do: prefer `toHostAsync` where the caller
   * can wait.
   */
  toHost(filter: (name: string) => boolean = () => true): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [name, e] of this.entries) {
      if (!filter(name)) continue;
      const t = e.transposeOnDisk ? tf.transpose(e.variable) : e.variable;
      out.set(name, { shape: t.shape.slice(), data: t.dataSync() as Float32Array });
      if (t !== e.variable) t.dispose();
    }
    return out;
  }

  /**
   * `toHost` with asynchronous reads (`await t.data()`), which every backend supports; the values
   * are the same. All reads are started before the first is awaited, so a GPU copies them in one go.
   *
   * @example
   * await writeSafetensors('model.safetensors', await store.toHostAsync());
   */
  async toHostAsync(filter: (name: string) => boolean = () => true): Promise<Map<string, HostTensor>> {
    const reads: Array<{ name: string; shape: number[]; data: Promise<Float32Array>; temp: tf.Tensor | null }> = [];
    for (const [name, e] of this.entries) {
      if (!filter(name)) continue;
      const t = e.transposeOnDisk ? tf.transpose(e.variable) : e.variable;
      reads.push({
        name,
        shape: t.shape.slice(),
        data: t.data() as Promise<Float32Array>,
        temp: t !== e.variable ? t : null,
      });
    }
    try {
      const data = await Promise.all(reads.map((r) => r.data));
      return new Map(reads.map((r, i) => [r.name, { shape: r.shape, data: data[i]! }]));
    } finally {
      await Promise.allSettled(reads.map((r) => r.data)); // no transposed copy is disposed while it is being read
      for (const r of reads) r.temp?.dispose();
    }
  }

  /**
   * Assigns values given in the on-disk layout. `strict` (default) requires every parameter to be
   * present; unknown names are always an error, naming `source`.
   */
  loadHost(
    tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>,
    opts: { strict?: boolean; source?: string } = {},
  ): void {
    const source = opts.source ?? 'weights';
    this.changes++;
    for (const [name, t] of tensors) {
      const e = this.entries.get(name);
      if (!e) throw new Error(`${source}: unexpected tensor "${name}" (the model has no such parameter)`);
      const expected = e.transposeOnDisk ? [...e.variable.shape].reverse() : e.variable.shape;
      if (expected.length !== t.shape.length || expected.some((d, i) => d !== t.shape[i])) {
        throw new Error(`${source}: tensor "${name}" has shape [${t.shape}], the model expects [${expected}]`);
      }
      tf.tidy(() => {
        const v = tf.tensor(Float32Array.from(t.data), t.shape, 'float32');
        e.variable.assign(e.transposeOnDisk ? tf.transpose(v) : v);
      });
    }
    if (opts.strict ?? true) {
      const missing = this.names().filter((n) => !tensors.has(n));
      if (missing.length) {
        throw new Error(
          `${source}: missing tensors ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''}`,
        );
      }
    }
  }

  /** Copies values from another store with the same names and shapes. */
  copyFrom(other: ParamStore): void {
    this.changes++;
    for (const [name, e] of this.entries) e.variable.assign(other.get(name));
  }

  dispose(): void {
    for (const e of this.entries.values()) e.variable.dispose();
    this.entries.clear();
  }
}
