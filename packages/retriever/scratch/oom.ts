import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
await initEngine({ backend: 'wasm' });
const keep: tf.Tensor[] = [];
try {
  for (let i = 0; i < 100; i++) { keep.push(tf.tidy(() => tf.add(tf.ones([256, 1024, 1024]), 1))); console.log('alloc', i + 1, 'GiB', tf.memory().numBytes / 2**30); }
} catch (e) {
  const err = e as Error;
  console.log('ERR name', err.name, 'ctor', err.constructor?.name, 'msg', err.message, err instanceof WebAssembly.RuntimeError);
}
tf.dispose(keep);
try { const y = tf.add(tf.ones([4]), 1); console.log('after', y.dataSync()); const z = tf.matMul(tf.ones([64,64]), tf.ones([64,64])); console.log('mm', z.dataSync()[0]); const big = tf.add(tf.ones([256,1024,1024]),1); console.log('big ok', big.dataSync()[5]); } catch (e) { console.log('after ERR', (e as Error).message); }
