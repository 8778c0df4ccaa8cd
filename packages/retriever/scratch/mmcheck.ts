import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
await initEngine({ backend: 'wasm' });
const cases: [number[], number[], boolean, boolean][] = [[[2,3,5,4],[2,3,4,6],false,false],[[2,3,5,4],[4,6],false,false],[[1,5,4],[3,4,6],false,false],[[2,3,4,5],[2,3,6,4],true,true],[[3,5,4],[1,4,6],false,false]];
for (const [sa, sb, ta, tb] of cases) {
  const a = tf.randomNormal(sa, 0, 1, 'float32', 1), b = tf.randomNormal(sb, 0, 1, 'float32', 2);
  const y = tf.matMul(a, b, ta, tb);
  const av = a.arraySync(), bv = b.arraySync();
  await tf.setBackend('cpu');
  const ref = tf.matMul(tf.tensor(av as never), tf.tensor(bv as never), ta, tb);
  const d = tf.max(tf.abs(tf.sub(ref, tf.tensor(y.arraySync() as never)))).dataSync()[0];
  console.log(sa, sb, y.shape, ref.shape, d);
  await tf.setBackend('wasm');
}
const mem0 = tf.memory();
const a = tf.randomNormal([24,256,32]), b = tf.randomNormal([24,32,256]);
for (let i = 0; i < 5; i++) { const t0=performance.now(); tf.matMul(a, b).dispose(); console.log('ms', (performance.now()-t0).toFixed(1)); }
console.log(mem0.numBytes, tf.memory().numBytes);
