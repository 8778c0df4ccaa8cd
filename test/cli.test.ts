/**
 * The CLI parses into the library's configs and prints what scripts need: index -> search ->
 * eval on a small corpus (BM25, fast), JSON outputs, and errors that name the bad input.
 */
import { describe, it, expect, beforeAll, afterEach, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '@dalm/core';
import { buildProgram } from '@dalm/cli';

async function run(args: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'dalm', '--quiet', '--backend', 'cpu', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('dalm CLI', () => {
  let dir: string;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-cli-'));
    const corpus = [
      { id: 'a', title: 'Bats', text: 'Bats host many coronaviruses in their intestines.' },
      { id: 'b', title: 'Masks', text: 'Surgical masks reduce droplet transmission between people.' },
      { id: 'c', title: 'Incubation', text: 'The incubation period of the virus is about five days.' },
    ];
    writeFileSync(path.join(dir, 'corpus.jsonl'), corpus.map((c) => JSON.stringify(c)).join('\n') + '\n');
    const qa = [
      { id: 'q1', question: 'Which animals host coronaviruses?', answers: ['bats'], positive_ids: ['a'] },
      { id: 'q2', question: 'How long is the incubation period?', answers: ['about five days'], positive_ids: ['c'] },
    ];
    writeFileSync(path.join(dir, 'dev.jsonl'), qa.map((q) => JSON.stringify(q)).join('\n') + '\n');
  });
  afterEach(() => vi.restoreAllMocks());

  it('indexes, searches and evaluates with JSON output', async () => {
    const idx = path.join(dir, 'index');
    const summary = JSON.parse(await run(['index', path.join(dir, 'corpus.jsonl'), '--out', idx, '--chunk-tokens', '0', '--json']));
    expect(summary).toMatchObject({ passages: 3, dense: null });
    const search = JSON.parse(await run(['search', idx, 'incubation period', '-k', '2', '--json']));
    expect(search.mode).toBe('bm25');
    expect(search.hits[0].id).toBe('c');
    const ev = JSON.parse(await run(['eval', 'retriever', '--index', idx, '--qa', path.join(dir, 'dev.jsonl'), '--json']));
    expect(ev.primary).toBe('ndcg@10');
    expect(ev.results.bm25['hit@1']).toBe(1);
    expect(ev.results.bm25['mrr@10']).toBe(1);
  });

  it('errors name the bad file, line or option', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"question": "ok?", "answers": ["x"]}\n{not json\n');
    await expect(run(['eval', 'retriever', '--index', path.join(dir, 'index'), '--qa', bad])).rejects.toThrow(`${bad}:2: malformed JSON`);
    await expect(run(['index', path.join(dir, 'missing'), '--out', path.join(dir, 'x')])).rejects.toThrow(/missing/);
    await expect(run(['search', path.join(dir, 'index'), 'q', '--mode', 'dense'])).rejects.toThrow(/needs a dense index and its retriever/);
    await expect(run(['pairs', '--out', path.join(dir, 'p.jsonl')])).rejects.toThrow(/give one of --qa, --labelled or --ict/);
  });
});
