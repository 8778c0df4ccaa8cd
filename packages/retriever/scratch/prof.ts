import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
import { BertModel } from '../src/bert';
import { validateBertConfig } from '../src/bert-config';

const [batch, seq, layers] = [Number(process.argv[2] ?? 2), Number(process.argv[3] ?? 256), Number(process.argv[4] ?? 1)];
await initEngine({ backend: (process.env.B as never) ?? 'wasm' });
const cfg = validateBertConfig({ vocab_size: 8000, hidden_size: 384, num_hidden_layers: layers, num_attention_heads: 12, intermediate_size: 1536, max_position_embeddings: 512 });
const bert = new BertModel(cfg, { pooler: false });
const vars = bert.params.trainableVariables();
const ids = tf.randomUniform([batch, seq], 1, 7999, 'int32') as tf.Tensor2D;
const mask = tf.ones([batch, seq], 'int32');
const step = () => tf.tidy(() => { const { value, grads } = tf.variableGrads(() => tf.mean(bert.forward(ids, mask, null, { training: true, pooler: false }).lastHiddenState) as tf.Scalar, vars); return value; });
step().dispose();
let t0 = performance.now(); step().dispose(); const wall = performance.now() - t0;
const prof = await tf.profile(() => { step().dispose(); });
const by = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) { const key = k.name + ' ' + JSON.stringify(k.inputShapes); const e = by.get(key) ?? { ms: 0, n: 0 }; e.ms += k.kernelTimeMs as number; e.n++; by.set(key, e); }
const rows = [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30);
const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
console.log(`wall ${wall.toFixed(0)} ms, kernel total ${total.toFixed(0)} ms`);
for (const [k, e] of rows) console.log(e.ms.toFixed(1).padStart(8), String(e.n).padStart(4), k);
