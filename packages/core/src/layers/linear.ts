/**
 * Dense layer y = x·W + b with optional LoRA (Hu et al., 2021, "LoRA: Low-Rank Adaptation of
 * Large Language Models"): y = x·W + b + (alpha / r) · dropout(x)·A·B, with W frozen and only
 * A `[in, r]` and B `[r, out]` trained. B starts at zero, so enabling LoRA leaves outputs unchanged.
 *
 * Parameter names follow HF/PEFT: `<name>.weight`, `<name>.bias`, `<name>.lora_A.weight`,
 * `<name>.lora_B.weight`. Weights are `[in, out]` in memory, `[out, in]` on disk (see ParamStore).
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore, Init } from './params';
import { dropout } from './dropout';

export interface LinearOptions {
  /** Whether the layer has a bias. Default true. */
  bias?: boolean;
  /** Weight initialisation. Default normal(0, 0.02). */
  init?: Init;
  /** Store the weight as `[in, out]` on disk too (GPT-2's Conv1D). Default false. */
  conv1d?: boolean;
}

/** LoRA settings for one linear layer. */
export interface LoraOptions {
  /** Rank r of the update. */
  rank: number;
  /** Scale numerator: the update is multiplied by alpha / r. */
  alpha: number;
  /** Dropout on the LoRA branch's input while training. */
  dropout: number;
  /** Seed for A's initialisation. */
  seed?: number;
}

export class Linear {
  readonly weight: tf.Variable; // [in, out]
  readonly bias: tf.Variable | null; // [out]
  private lora: { a: tf.Variable; b: tf.Variable; scale: number; dropout: number } | null = null;

  constructor(
    private readonly store: ParamStore,
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    this.weight = store.create(`${name}.weight`, [inFeatures, outFeatures], {
      init: opts.init,
      transposeOnDisk: !opts.conv1d,
    });
    this.bias = (opts.bias ?? true) ? store.create(`${name}.bias`, [outFeatures], { init: { kind: 'zeros' } }) : null;
  }

  /** Adds LoRA matrices and freezes this layer's own weight and bias. */
  enableLora(opts: LoraOptions): void {
    if (this.lora) throw new Error(`${this.name}: LoRA is already enabled`);
    if (!(opts.rank >= 1)) throw new Error(`${this.name}: LoRA rank must be >= 1, got ${opts.rank}`);
    const a = this.store.create(`${this.name}.lora_A.weight`, [this.inFeatures, opts.rank], {
      init: { kind: 'normal', std: 1 / Math.sqrt(this.inFeatures) },
      transposeOnDisk: true,
    });
    const b = this.store.create(`${this.name}.lora_B.weight`, [opts.rank, this.outFeatures], {
      init: { kind: 'zeros' },
      transposeOnDisk: true,
    });
    this.store.setTrainable(false, (n) => n === `${this.name}.weight` || n === `${this.name}.bias`);
    this.lora = { a, b, scale: opts.alpha / opts.rank, dropout: opts.dropout };
  }

  get hasLora(): boolean {
    return this.lora !== null;
  }

  /** Folds the LoRA update into the weight (W += scale·A·B) and zeroes B, so outputs stay the same. */
  mergeLora(): void {
    const lora = this.lora;
    if (!lora) return;
    this.store.markChanged();
    tf.tidy(() => {
      this.weight.assign(tf.add(this.weight, tf.mul(tf.matMul(lora.a, lora.b), lora.scale)));
      lora.b.assign(tf.zerosLike(lora.b));
    });
  }

  /** x: [..., in] -> [..., out]. */
  apply(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]); // [n, in]
      let y = tf.matMul(x2, this.weight); // [n, out]
      if (this.bias) y = tf.add(y, this.bias);
      if (this.lora) {
        const xin = dropout(x2, this.lora.dropout, training);
        const delta = tf.matMul(tf.matMul(xin, this.lora.a), this.lora.b); // [n, out]
        y = tf.add(y, tf.mul(delta, this.lora.scale));
      }
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}
