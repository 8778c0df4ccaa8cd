/**
 * AdamW (Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization").
 *
 *   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
 *   m̂ = m / (1−β1ᵗ)               v̂ = v / (1−β2ᵗ)
 *   θ ← θ − lr·( m̂ / (√v̂ + ε) + λ·θ )      (λ only for parameters that `decays(name)`)
 *
 * State is kept per parameter name, so it can be written to and read from a checkpoint and a
 * resumed run continues bit-for-bit.
 */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '@dalm/core';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay λ. */
  weightDecay: number;
}

export const DEFAULT_ADAMW_CONFIG: Readonly<AdamWConfig> = Object.freeze({
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0.01,
});

/** By convention biases and normalisation weights are not decayed. */
export function defaultDecays(name: string): boolean {
  return !(name.endsWith('.bias') || /norm|LayerNorm|ln_/i.test(name));
}

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Number of updates applied so far. */
  step = 0;

  constructor(
    readonly config: AdamWConfig = DEFAULT_ADAMW_CONFIG,
    private readonly decays: (name: string) => boolean = defaultDecays,
  ) {}

  /** Applies one update with learning rate `lr` to `params` (by name) using `grads` (same names). */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      if (!this.m.has(name)) {
        this.m.set(
          name,
          tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
        );
        this.v.set(
          name,
          tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
        );
      }
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      tf.tidy(() => {
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(mNew);
        v.assign(vNew);
        let update = tf.div(tf.div(mNew, c1), tf.add(tf.sqrt(tf.div(vNew, c2)), epsilon));
        if (weightDecay > 0 && this.decays(name)) update = tf.add(update, tf.mul(p, weightDecay));
        p.assign(tf.sub(p, tf.mul(update, lr)));
      });
    }
  }

  /** Moments as host tensors named `<param>.m` / `<param>.v` (read asynchronously: every backend can). */
  async stateToHost(): Promise<Map<string, HostTensor>> {
    const reads: Array<[string, tf.Variable]> = [];
    for (const [name, m] of this.m) reads.push([`${name}.m`, m], [`${name}.v`, this.v.get(name)!]);
    const data = await Promise.all(reads.map(([, t]) => t.data() as Promise<Float32Array>));
    return new Map(reads.map(([key, t], i) => [key, { shape: t.shape.slice(), data: data[i]! }]));
  }

  /** Restores moments saved by `stateToHost` and the step count. */
  loadState(tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>, step: number): void {
    this.disposeState();
    for (const [key, t] of tensors) {
      const isM = key.endsWith('.m');
      const name = key.slice(0, -2);
      const target = isM ? this.m : this.v;
      target.set(
        name,
        tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(t.data), t.shape, 'float32'), false)),
      );
    }
    this.step = step;
  }

  private disposeState(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }

  dispose(): void {
    this.disposeState();
  }
}
