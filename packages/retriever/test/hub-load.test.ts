/**
 * loadEncoder by Hub id: `test-org/bert-tiny` served by a local Hub stand-in (HF_ENDPOINT) loads
 * into the HF cache and embeds exactly as the fixture directory it was served from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoder } from '../src/encoder';
import { FakeHub, useFakeHubEnv } from '../../../test/helpers/fake-hub';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const bertTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'bert-tiny');
const TEXTS = ['Hello, world! How are you?', 'The quick brown fox jumps over the lazy dog.', 'a cat', 'is this good?'];

describe('loadEncoder by Hub id', () => {
  let hub: FakeHub;
  let cache: string;
  let restore: () => void;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    hub = await new FakeHub({ repos: { 'test-org/bert-tiny': { dir: bertTiny } } }).start();
    cache = mkdtempSync(path.join(os.tmpdir(), 'dalm-hub-enc-'));
    restore = useFakeHubEnv(hub, cache);
  });
  afterAll(async () => {
    restore();
    await hub.stop();
    rmSync(cache, { recursive: true, force: true });
  });

  it('gives the same vectors and fingerprint as the fixture directory', async () => {
    const byName = await loadEncoder('test-org/bert-tiny');
    const byDir = await loadEncoder(bertTiny);
    const a = await byName.embed(TEXTS);
    const b = await byDir.embed(TEXTS);
    expect(a.length).toBe(4);
    for (let i = 0; i < TEXTS.length; i++) expect(Array.from(a[i])).toEqual(Array.from(b[i]));
    expect(await byName.ensureFingerprint()).toBe(await byDir.ensureFingerprint());
    expect(hub.requests.some((r) => r.path.includes('/resolve/'))).toBe(true);
    byName.dispose();
    byDir.dispose();
  });
});
