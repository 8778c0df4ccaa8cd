/**
 * `dalm serve` as a process (`node --import tsx packages/cli/src/main.ts serve`: node itself gets the
 * signal, as with the installed `dalm` bin; the `tsx` wrapper of `pnpm dalm` was seen to cut the stream):
 * it prints its address, lists the training runs under --runs and serves their report, and on
 * SIGTERM lets a stream in flight finish (ending with `done`) before exiting with status 0.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '@dalm/core';
import { buildIndexDir, type Passage } from '@dalm/retriever';

const repoRoot = path.resolve(__dirname, '..');
const llamaTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'llama-tiny');
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

const corpus: Passage[] = [
  {
    id: 'a',
    title: 'Bats',
    source: 'bats.md',
    start: 0,
    end: 49,
    text: 'Bats host many coronaviruses in their intestines.',
  },
  {
    id: 'c',
    title: 'Incubation',
    source: 'incubation.md',
    start: 0,
    end: 55,
    text: 'The incubation period of the virus is about five days.',
  },
];

describe.skipIf(!existsSync(llamaTiny))('dalm serve (process)', () => {
  let dir: string;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-serve-cli-'));
    await buildIndexDir(path.join(dir, 'index'), corpus, null); // BM25 only
    mkdirSync(path.join(dir, 'runs', 'retriever'), { recursive: true });
    writeFileSync(
      path.join(dir, 'runs', 'retriever', 'metrics.jsonl'),
      [1, 2, 3].map((step) => JSON.stringify({ step, loss: 3 - step * 0.5 })).join('\n') + '\n',
    );
    mkdirSync(path.join(dir, 'runs', 'not-a-run'));
  });

  it('serves runs and their reports; SIGTERM finishes the stream in flight, then exits 0', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'packages/cli/src/main.ts',
        '--backend',
        'cpu',
        'serve',
        '--index',
        path.join(dir, 'index'),
        '--generator',
        llamaTiny,
        '--runtime',
        'tfjs',
        '--port',
        '0',
        '--runs',
        path.join(dir, 'runs'),
        '--json',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          stdout += d;
          const m = /"url": "([^"]+)"/.exec(stdout);
          if (m) resolve(m[1]!);
        });
        child.on('exit', () => reject(new Error(`dalm serve exited early: ${stderr}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const runs = await (await fetch(url + '/v1/runs')).json();
      expect(runs.runs.map((r: { name: string }) => r.name)).toEqual(['retriever']);
      const report = await fetch(url + runs.runs[0].report);
      expect(report.status).toBe(200);
      expect(report.headers.get('content-type')).toMatch(/text\/html/);
      expect(await report.text()).toContain('retriever');
      expect((await fetch(url + '/runs/not-a-run/report')).status).toBe(404);
      expect((await fetch(url + '/runs/..%2F..%2Fetc/report')).status).toBe(404);
      // dense mode on a BM25-only server: 400 naming mode
      const dense = await fetch(url + '/v1/search', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'bats', mode: 'dense' }),
      });
      expect(dense.status).toBe(400);
      expect((await dense.json()).error.param).toBe('mode');

      const res = await fetch(url + '/v1/ask', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'Which animals host coronaviruses?', max_tokens: 120, stream: true }),
      });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value);
      child.kill('SIGTERM');
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value);
      expect(text).toMatch(/event: citations\ndata: \[\{"id":"a"/);
      expect(text).toMatch(/event: done\ndata: \{"answer":/);
      expect(await exited).toBe(0);
      expect(stderr).toContain('shutting down after in-flight requests');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  it('--help lists the options with examples', async () => {
    const child = spawn(tsx, ['packages/cli/src/main.ts', 'serve', '--help'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise((r) => child.on('exit', r));
    for (const flag of [
      '--index',
      '--generator',
      '--retriever',
      '--host',
      '--port',
      '--runs',
      '--max-body-bytes',
      '--max-question-chars',
      '--max-tokens',
      '--max-concurrent',
      '--max-queue',
      '--runtime',
      'Examples:',
    ])
      expect(out).toContain(flag);
  }, 60_000);
});
