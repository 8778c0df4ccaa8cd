/**
 * sentence-transformers parity, one tiny model per module type: every Pooling mode, two modes
 * concatenated, truncation at max_seq_length, Dense (Tanh; no-bias Identity chained with Tanh),
 * prompts, include_prompt=false (mean and cls), default_prompt_name, and the no-modules.json rule
 * (mean for a plain directory, CLS for a BGE-named one). The directories and the vectors come from
 * sentence-transformers 6.3.0 itself (scripts/reference/make_st_fixtures.py, written outside the
 * repo); our encode / encode_query / encode_document equivalents must match within 1e-5, and so must
 * the same encoder after a save → load round trip through our writer.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '@dalm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoder, type Encoder, type TextKind } from '../src/encoder';
import { missingReference, referencePath } from '../../../test/reference-paths';

interface FixtureRef {
  dim: number;
  max_seq_length: number;
  modules: string[];
  none: number[][];
  query: number[][];
  document: number[][];
  token_counts: { none: number[]; query: number[]; document: number[] };
}
interface Manifest {
  versions: Record<string, string>;
  sentences: string[];
  fixtures: Record<string, FixtureRef>;
}

const root = referencePath('st-fixtures');
const manifestFile = path.join(root, 'manifest.json');
const skip = missingReference(manifestFile, 'sentence-transformers fixtures (scripts/reference/make_st_fixtures.py)');
if (skip) console.warn(`skipping: ${skip}`);

const TOLERANCE = 1e-5;

/** What each fixture must load as (the settings the files say). */
const EXPECTED: Record<string, Record<string, unknown>> = {
  'pool-cls': { pooling: 'cls', normalize: true },
  'pool-max': { pooling: 'max', normalize: true },
  'pool-mean': { pooling: 'mean', normalize: true },
  'pool-mean_sqrt_len_tokens': { pooling: 'mean_sqrt_len_tokens', normalize: true },
  'pool-weightedmean': { pooling: 'weightedmean', normalize: true },
  'pool-lasttoken': { pooling: 'lasttoken', normalize: true },
  'pool-cls-max': { pooling: ['cls', 'max'], normalize: true },
  'no-normalize-maxlen12': { pooling: 'mean', normalize: false, maxLength: 12 },
  'dense-tanh': { pooling: 'mean', normalize: true },
  'dense-chain': { pooling: 'max', normalize: false },
  prompts: { queryPrefix: 'query: ', passagePrefix: 'passage: ', defaultPrefix: '', includePrompt: true },
  'exclude-prompt-mean': { pooling: 'mean', includePrompt: false, queryPrefix: 'query: ' },
  'exclude-prompt-cls': { pooling: 'cls', includePrompt: false, passagePrefix: 'passage: ' },
  'default-prompt': { queryPrefix: '', passagePrefix: '', defaultPrefix: 'classify: ' },
  'plain-bert': { pooling: 'mean', normalize: true, maxLength: 64 },
  'bge-tiny-plain': { pooling: 'cls', normalize: true },
};

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const KINDS: [TextKind, 'none' | 'query' | 'document'][] = [
  ['none', 'none'],
  ['query', 'query'],
  ['passage', 'document'],
];

/** The worst |ours − sentence-transformers| over every text and kind. */
async function worstDiff(enc: Encoder, sentences: string[], ref: FixtureRef): Promise<number> {
  let worst = 0;
  for (const [kind, refKind] of KINDS) {
    const ours = await enc.embed(sentences, { kind, batchSize: 3 }); // several buckets: padding must not matter
    ours.forEach((v, i) => (worst = Math.max(worst, maxDiff(v, ref[refKind][i]!))));
  }
  return worst;
}

describe.skipIf(!!skip)('sentence-transformers fixtures (parity within 1e-5)', () => {
  let manifest: Manifest;
  let tmp: string;
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    tmp = await mkdtemp(path.join(os.tmpdir(), 'dalm-st-fixtures-'));
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('has every fixture this test knows', () => {
    expect(Object.keys(manifest.fixtures).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const name of Object.keys(EXPECTED)) {
    it(`${name}: loads with the settings its files say, tokenises and embeds as sentence-transformers`, async () => {
      const ref = manifest.fixtures[name]!;
      const enc = await loadEncoder(path.join(root, name));
      try {
        expect(enc.settings).toMatchObject(EXPECTED[name]!);
        expect(enc.settings.maxLength).toBe(ref.max_seq_length);
        expect(enc.dim).toBe(ref.dim);
        expect(enc.dense.length).toBe(ref.modules.filter((m) => m === 'Dense').length);
        for (const [kind, refKind] of KINDS) {
          expect(enc.tokenize(manifest.sentences, kind).map((r) => r.length)).toEqual(ref.token_counts[refKind]);
        }
        const before = tf.memory().numTensors;
        const diff = await worstDiff(enc, manifest.sentences, ref);
        expect(tf.memory().numTensors).toBe(before);
        expect(diff).toBeLessThanOrEqual(TOLERANCE);

        // Our writer → our reader: same settings, same vectors, still sentence-transformers' numbers.
        const saved = path.join(tmp, name);
        await enc.save(saved);
        // sentence-transformers 6.x starts with placeholder query/document prompts and encode_document picks
        // "document" first, so the passage prefix must be written under that name for ST to use it.
        const stConfig = JSON.parse(await readFile(path.join(saved, 'config_sentence_transformers.json'), 'utf8'));
        expect(stConfig.prompts).toMatchObject({
          query: enc.settings.queryPrefix,
          document: enc.settings.passagePrefix,
        });
        const again = await loadEncoder(saved);
        try {
          expect(again.settings).toEqual(enc.settings);
          expect(again.dim).toBe(enc.dim);
          expect(await worstDiff(again, manifest.sentences, ref)).toBeLessThanOrEqual(TOLERANCE);
        } finally {
          again.dispose();
        }
      } finally {
        enc.dispose();
      }
    });
  }
});
