import * as tf from '@tensorflow/tfjs';
import { initEngine, setGradientCheckpointing } from '@dalm/core';
import { BertModel } from '../src/bert';
import { validateBertConfig } from '../src/bert-config';

const [batch, seq, layers] = [Number(process.argv[2] ?? 2), Number(process.argv[3] ?? 256), Number(process.argv[4] ?? 12)];
await initEngine({ backend: (process.env.B as never) ?? 'wasm' });
setGradientCheckpointing(process.env.CK === '1');
const cfg = validateBertConfig({ vocab_size: 8000, hidden_size: 384, num_hidden_layers: layers, num_attention_heads: 12, intermediate_size: 1536, max_position_embeddings: 512 });
const bert = new BertModel(cfg, { pooler: false });
const vars = bert.params.trainableVariables();
const ids = tf.randomUniform([batch, seq], 1, 7999, 'int32') as tf.Tensor2D;
const mask = tf.ones([batch, seq], 'int32');
const base = tf.memory().numBytes;
const t0 = performance.now();
const prof = await tf.profile(() => {
  const { value, grads } = tf.variableGrads(() => tf.mean(bert.forward(ids, mask, null, { training: true, pooler: false }).lastHiddenState) as tf.Scalar, vars);
  value.dispose(); tf.dispose(grads);
});
const t1 = performance.now();
const paramBytes = bert.params.count() * 4;
const held = prof.peakBytes - base - paramBytes; // minus the gradients (one per parameter)
console.log(JSON.stringify({ ck: process.env.CK === '1', batch, seq, layers, tokens: batch * seq, peakMiB: (prof.peakBytes - base) / 2 ** 20, tapeMiB: held / 2 ** 20, perKTokMiB: held / 2 ** 20 / (batch * seq / 1000), perTokLayerFloats: held / 4 / (batch * seq) / layers, ms: Math.round(t1 - t0) }));
