/** Feed-forward blocks. Each takes the HF names of its projections. */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params';
import { Linear, type LinearOptions } from './linear';
import { activation } from './activations';

/** up → activation → down (BERT's intermediate/output, GPT-2's c_fc/c_proj). */
export class Mlp {
  readonly up: Linear;
  readonly down: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;
  constructor(
    store: ParamStore,
    names: { up: string; down: string },
    hidden: number,
    intermediate: number,
    act: string,
    opts: LinearOptions = {},
  ) {
    this.up = new Linear(store, names.up, hidden, intermediate, opts);
    this.down = new Linear(store, names.down, intermediate, hidden, opts);
    this.act = activation(act);
  }

  apply(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() => this.down.apply(this.act(this.up.apply(x, training)), training));
  }
}

/** Gated MLP (Shazeer, 2020, "GLU Variants Improve Transformer"): down(act(gate(x)) ⊙ up(x)); SwiGLU with silu, as Llama. */
export class GatedMlp {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;
  constructor(
    store: ParamStore,
    prefix: string,
    hidden: number,
    intermediate: number,
    act = 'silu',
    opts: LinearOptions = {},
  ) {
    this.gate = new Linear(store, `${prefix}.gate_proj`, hidden, intermediate, { bias: false, ...opts });
    this.up = new Linear(store, `${prefix}.up_proj`, hidden, intermediate, { bias: false, ...opts });
    this.down = new Linear(store, `${prefix}.down_proj`, intermediate, hidden, { bias: false, ...opts });
    this.act = activation(act);
  }

  apply(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() =>
      this.down.apply(tf.mul(this.act(this.gate.apply(x, training)), this.up.apply(x, training)), training),
    );
  }
}
