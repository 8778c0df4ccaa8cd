/** The decoders are trainable: gradients reach every parameter (GQA included) and a few Adam steps fit a sequence. */
import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createCausalLM, SMALL_LLAMA_CONFIG, type CausalLM } from '../src/index';

const V = 50;
const IDS = [[1, 5, 6, 7, 8, 9, 10, 11]];
const NEXT = [5, 6, 7, 8, 9, 10, 11, 12];

function loss(model: CausalLM): tf.Scalar {
  const { logits } = model.forward(tf.tensor2d(IDS, undefined, 'int32'), { training: true }); // [1, 8, V]
  return tf.losses.softmaxCrossEntropy(
    tf.oneHot(tf.tensor1d(NEXT, 'int32'), V),
    tf.reshape(logits, [NEXT.length, V]),
  ) as tf.Scalar;
}

const configs: [string, Record<string, unknown>][] = [
  [
    'llama (GQA 4q/2kv, tied)',
    { ...SMALL_LLAMA_CONFIG, vocab_size: V, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2 },
  ],
  [
    'qwen2 (q/k/v biases)',
    {
      model_type: 'qwen2',
      vocab_size: V,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 1,
    },
  ],
  [
    'gpt2',
    {
      model_type: 'gpt2',
      vocab_size: V,
      n_embd: 32,
      n_layer: 2,
      n_head: 4,
      n_positions: 32,
      bos_token_id: 1,
      eos_token_id: 2,
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
    },
  ],
];

describe('training through forward()', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [label, config] of configs) {
    it(`${label}: every parameter gets a non-zero gradient and 30 Adam steps cut the loss by 80%`, () => {
      const model = createCausalLM(config, 3);
      const vars = model.params.trainableVariables();
      const { grads, value } = tf.variableGrads(() => loss(model), vars);
      for (const name of model.params.names()) {
        const g = grads[model.params.get(name).name];
        expect(g, name).toBeDefined();
        expect(
          tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]),
          name,
        ).toBeGreaterThan(0);
      }
      tf.dispose([value, ...Object.values(grads)]);
      const opt = tf.train.adam(1e-2);
      const losses: number[] = [];
      for (let s = 0; s < 30; s++) {
        const l = opt.minimize(() => loss(model), true, vars)!;
        losses.push(l.dataSync()[0]);
        l.dispose();
      }
      expect(losses[0]).toBeGreaterThan(Math.log(V) - 0.5); // ~ln 50 = 3.9 at init
      expect(losses.at(-1)!).toBeLessThan(0.2 * losses[0]);
      opt.dispose();
      model.dispose();
    });
  }
});
