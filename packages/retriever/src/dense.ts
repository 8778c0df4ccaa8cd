/**
 * sentence-transformers' `Dense` module: y = activation(x·Wᵀ + b) on the pooled vector, as in
 * models that project or squash the pooled embedding (LaBSE, the `2_Dense` of many ST models).
 * Its weights live in the encoder's ParamStore as `<module path>.linear.weight` / `.bias`, so the
 * optimizer trains them with the transformer, and are written back to `<path>/model.safetensors`
 * as `linear.weight` [out, in] / `linear.bias`, the names sentence-transformers reads.
 */
import * as tf from '@tensorflow/tfjs';
import { Linear, gelu, silu, type ParamStore } from '@dalm/core';

/** The activations a Dense module can name (torch class paths, as its `config.json` stores them). */
export const DENSE_ACTIVATIONS: Readonly<Record<string, (x: tf.Tensor) => tf.Tensor>> = Object.freeze({
  'torch.nn.modules.linear.Identity': (x: tf.Tensor) => tf.clone(x),
  'torch.nn.modules.activation.Tanh': (x: tf.Tensor) => tf.tanh(x),
  'torch.nn.modules.activation.ReLU': (x: tf.Tensor) => tf.relu(x),
  'torch.nn.modules.activation.Sigmoid': (x: tf.Tensor) => tf.sigmoid(x),
  /** `nn.GELU()` with its default `approximate='none'` (the erf form). */
  'torch.nn.modules.activation.GELU': gelu,
  'torch.nn.modules.activation.SiLU': silu,
});

/** sentence-transformers' default when a Dense config names no activation: `nn.Tanh()`. */
export const DEFAULT_DENSE_ACTIVATION = 'torch.nn.modules.activation.Tanh';

/** A Dense module's `config.json` (the keys sentence-transformers writes). */
export interface DenseConfig {
  in_features: number;
  out_features: number;
  bias: boolean;
  /** A key of DENSE_ACTIVATIONS. */
  activation_function: string;
}

/** One Dense module, its directory inside the encoder directory and its parameters. */
export class DenseLayer {
  private readonly linear: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  /**
   * @param path the module's directory in the ST layout (e.g. `2_Dense`); also its parameter prefix.
   */
  constructor(
    store: ParamStore,
    readonly path: string,
    readonly config: DenseConfig,
  ) {
    const act = DENSE_ACTIVATIONS[config.activation_function];
    if (!act) {
      throw new Error(
        `Dense module "${path}": activation_function "${config.activation_function}" is not supported (supported: ${Object.keys(DENSE_ACTIVATIONS).join(', ')})`,
      );
    }
    this.act = act;
    this.linear = new Linear(store, `${path}.linear`, config.in_features, config.out_features, { bias: config.bias });
  }

  /** The parameter-name prefix of this module in the encoder's ParamStore. */
  get prefix(): string {
    return `${this.path}.`;
  }

  /** x [b, in] -> [b, out]. */
  apply(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() => this.act(this.linear.apply(x, training)));
  }
}
