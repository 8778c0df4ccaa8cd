import * as tf from '@tensorflow/tfjs';
import { paritySuite } from './parity-suite';

paritySuite('cpu', async () => {
  await tf.setBackend('cpu');
});
