/**
 * The CLI takes Hub ids wherever it takes a model: with HF_ENDPOINT pointing at a local Hub
 * stand-in, `dalm index --retriever test-org/bert-tiny` builds a dense index (recording the id),
 * `dalm search --mode dense` reloads the encoder by that id (online, then with HF_HUB_OFFLINE=1),
 * and `dalm train retriever --base test-org/bert-tiny --steps 1` starts from it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '@dalm/core';
import { runCli } from './helpers/run-cli';
import { loadEncoder } from '@dalm/retriever';
import { FakeHub, useFakeHubEnv } from './helpers/fake-hub';

const bertTiny = path.resolve(__dirname, '../../shared/fixtures/hf-tiny/bert-tiny');

const run = (args: string[]) => runCli(args);

describe('dalm CLI with Hub ids', () => {
  let dir: string;
  let hub: FakeHub;
  let restore: () => void;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-cli-hub-'));
    hub = await new FakeHub({ repos: { 'test-org/bert-tiny': { dir: bertTiny } } }).start();
    restore = useFakeHubEnv(hub, path.join(dir, 'hf-cache'));
    const corpus = [
      { id: 'a', title: 'Bats', text: 'the cat sat on the mat' },
      { id: 'b', title: 'Masks', text: 'the quick brown fox jumps over the lazy dog' },
      { id: 'c', title: 'Incubation', text: 'we love deep learning in new york city' },
    ];
    writeFileSync(path.join(dir, 'corpus.jsonl'), corpus.map((c) => JSON.stringify(c)).join('\n') + '\n');
    const pairs = [
      { query: 'a cat', positive: 'the cat sat on the mat' },
      { query: 'a fox', positive: 'the quick brown fox jumps over the lazy dog' },
    ];
    writeFileSync(path.join(dir, 'pairs.jsonl'), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  });
  afterAll(async () => {
    restore();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('index --retriever org/name, then search by the recorded id (online and offline)', async () => {
    const idx = path.join(dir, 'index');
    const summary = JSON.parse(
      await run([
        'index',
        path.join(dir, 'corpus.jsonl'),
        '--out',
        idx,
        '--chunk-tokens',
        '0',
        '--retriever',
        'test-org/bert-tiny',
        '--dense-kind',
        'exact',
        '--json',
      ]),
    );
    expect(summary.passages).toBe(3);
    expect(summary.dense).not.toBeNull();
    expect(JSON.parse(readFileSync(path.join(idx, 'retriever.json'), 'utf8'))).toEqual({ model: 'test-org/bert-tiny' });
    expect(existsSync(path.join(dir, 'hf-cache', 'models--test-org--bert-tiny', 'refs', 'main'))).toBe(true);

    // The dense top hit must be the passage the fixture encoder itself ranks first.
    const enc = await loadEncoder(bertTiny);
    const [q, ...ps] = await enc.embed([
      'the cat sat',
      'the cat sat on the mat',
      'the quick brown fox jumps over the lazy dog',
      'we love deep learning in new york city',
    ]);
    const dots = ps.map((p) => p.reduce((s, v, i) => s + v * q[i], 0));
    const best = ['a', 'b', 'c'][dots.indexOf(Math.max(...dots))];
    enc.dispose();

    const online = JSON.parse(await run(['search', idx, 'the cat sat', '--mode', 'dense', '-k', '3', '--json']));
    expect(online.mode).toBe('dense');
    expect(online.hits.map((h: { id: string }) => h.id).sort()).toEqual(['a', 'b', 'c']);
    expect(online.hits[0].id).toBe(best);
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const offline = JSON.parse(await run(['search', idx, 'the cat sat', '--mode', 'dense', '-k', '3', '--json']));
      expect(offline.hits).toEqual(online.hits);
    } finally {
      process.env.HF_HUB_OFFLINE = '0';
    }
  });

  it('train retriever --base org/name --steps 1', async () => {
    const out = path.join(dir, 'trained');
    const summary = JSON.parse(
      await run([
        'train',
        'retriever',
        '--pairs',
        path.join(dir, 'pairs.jsonl'),
        '--base',
        'test-org/bert-tiny',
        '--out',
        out,
        '--steps',
        '1',
        '--batch-size',
        '2',
        '--hard-negatives',
        '0',
        '--warmup-steps',
        '0',
        '--json',
      ]),
    );
    expect(summary.steps).toBe(1);
    expect(Number.isFinite(summary.finalLoss)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')).hidden_size).toBe(32);
  });
});
