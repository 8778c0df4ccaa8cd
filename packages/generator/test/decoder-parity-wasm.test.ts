import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
import { paritySuite } from './parity-suite';

paritySuite('wasm', async () => {
  const info = await initEngine({ backend: 'wasm' });
  expect(info.backend).toBe('wasm');
  expect(tf.getBackend()).toBe('wasm');
});
