import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
import { BertModel } from '../src/bert';
import { validateBertConfig } from '../src/bert-config';
await initEngine({ backend: 'wasm' });
const cfg = validateBertConfig({ vocab_size: 8000, hidden_size: 384, num_hidden_layers: 1, num_attention_heads: 12, intermediate_size: 1536, max_position_embeddings: 512 });
const bert = new BertModel(cfg, { pooler: false });
const ids = tf.randomUniform([2, 256], 1, 7999, 'int32') as tf.Tensor2D;
const mask = tf.ones([2, 256], 'int32');
tf.variableGrads(() => {
  const y = tf.mean(bert.forward(ids, mask, null, { training: true, pooler: false }).lastHiddenState) as tf.Scalar;
  const tape = (tf.engine() as any).state.activeTape as any[];
  const seen = new Set<number>(); let total = 0; const by = new Map<string, number>();
  for (const n of tape) for (const t of n.saved ?? []) { const d = (t as any).dataId; const key = (tf.backend() as any).dataIdMap.get(d)?.id; if (seen.has(key)) continue; seen.add(key); total += t.size; const k = `${n.kernelName} [${t.shape}]`; by.set(k, (by.get(k) ?? 0) + t.size); }
  console.log('unique saved floats per token', total / 512);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((v / 512).toFixed(0).padStart(8), k);
  return y;
}, bert.params.trainableVariables());
