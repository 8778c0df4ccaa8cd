/**
 * Reproducibility as the README claims it: two identical from-scratch training commands (default
 * --model-seed 0, dropout on) write byte-identical weights, and another seed gives other weights.
 */
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '@dalm/core';
import { buildProgram } from '@dalm/cli';

async function run(args: string[]): Promise<void> {
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'dalm', '--quiet', '--backend', 'cpu', ...args]);
  } finally {
    spy.mockRestore();
  }
}

describe('reproducible training', () => {
  let dir: string;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-repro-'));
    const topics = [
      'bats host coronaviruses',
      'masks reduce droplet spread',
      'incubation lasts five days',
      'vaccines train immunity',
      'fever is a common symptom',
      'handwashing removes virus particles',
    ];
    const pairs = topics.flatMap((t, i) => [
      { query: `what about ${t.split(' ')[0]}?`, positive: `${t} according to study ${i}.` },
      { query: `tell me of ${t.split(' ').at(-1)}`, positive: `Reports say ${t}.` },
    ]);
    writeFileSync(path.join(dir, 'pairs.jsonl'), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  });

  it('two identical retriever runs give byte-identical weights; a different seed does not', async () => {
    const common = [
      'train',
      'retriever',
      '--pairs',
      path.join(dir, 'pairs.jsonl'),
      '--size',
      'tiny',
      '--steps',
      '3',
      '--batch-size',
      '4',
      '--grad-cache-chunk',
      '0',
    ];
    await run([...common, '--out', path.join(dir, 'a')]);
    await run([...common, '--out', path.join(dir, 'b')]);
    await run([...common, '--out', path.join(dir, 'c'), '--model-seed', '1']);
    const a = readFileSync(path.join(dir, 'a', 'model.safetensors'));
    const b = readFileSync(path.join(dir, 'b', 'model.safetensors'));
    const c = readFileSync(path.join(dir, 'c', 'model.safetensors'));
    expect(a.length).toBeGreaterThan(10_000);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a, c)).not.toBe(0);
  }, 120_000);
});
