/**
 * Bad or unusual input is handled loudly and correctly (hardening issue): a UTF-8 byte-order mark is
 * accepted in every JSONL input, retrieval-only evaluation needs no answers, and empty queries or
 * out-of-range numbers are refused with errors that name the option.
 */
import { describe, it, expect, beforeAll, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '@dalm/core';
import { runCli } from './helpers/run-cli';
import { readPairs, readQaExamples } from '@dalm/trainer';

const run = (args: string[]) => runCli(args);

const BOM = '\ufeff';

describe('input hardening', () => {
  let dir: string;
  let idx: string;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-input-'));
    const corpus = [
      { id: 'a', title: 'Bats', text: 'Bats host many coronaviruses in their intestines.' },
      { id: 'b', title: 'Masks', text: 'Surgical masks reduce droplet transmission between people.' },
      { id: 'c', title: 'Incubation', text: 'The incubation period of the virus is about five days.' },
    ];
    writeFileSync(path.join(dir, 'corpus.jsonl'), BOM + corpus.map((c) => JSON.stringify(c)).join('\n') + '\n');
    idx = path.join(dir, 'index');
    await run(['index', path.join(dir, 'corpus.jsonl'), '--out', idx, '--chunk-tokens', '0']);
  });

  it('accepts a byte-order mark in QA and pairs files', async () => {
    const qa = path.join(dir, 'qa.jsonl');
    writeFileSync(
      qa,
      BOM +
        JSON.stringify({
          id: 'q1',
          question: 'Which animals host coronaviruses?',
          answers: ['bats'],
          positive_ids: ['a'],
        }) +
        '\n',
    );
    expect((await readQaExamples(qa))[0]!.question).toBe('Which animals host coronaviruses?');
    const pairs = path.join(dir, 'pairs.jsonl');
    writeFileSync(pairs, BOM + JSON.stringify({ query: 'q', positive: 'p' }) + '\n');
    expect(await readPairs(pairs)).toEqual([{ query: 'q', positive: 'p' }]);
  });

  it('evaluates retrieval from questions with positive ids and no answers', async () => {
    const qa = path.join(dir, 'ids-only.jsonl');
    writeFileSync(
      qa,
      [
        { question: 'How long is the incubation period?', positive_ids: ['c'] },
        { question: 'Do masks reduce droplet transmission?', positive_ids: ['b'] },
      ]
        .map((q) => JSON.stringify(q))
        .join('\n') + '\n',
    );
    const ev = JSON.parse(await run(['eval', 'retriever', '--index', idx, '--qa', qa, '--json']));
    expect(ev.results.bm25['hit@1']).toBe(1);
    await expect(readQaExamples(qa)).rejects.toThrow(/ids-only.jsonl:1: missing "answers"/);
  });

  it('refuses empty queries and out-of-range numbers, naming the option', async () => {
    await expect(run(['search', idx, '  '])).rejects.toThrow(/query is empty/);
    await expect(run(['search', idx, 'masks', '-k', '1.5'])).rejects.toThrow(/-k expects a whole number, got "1.5"/);
    await expect(run(['search', idx, 'masks', '-k', '0'])).rejects.toThrow(/-k must be at least 1, got 0/);
    await expect(run(['search', idx, 'masks', '-k', '-1'])).rejects.toThrow(/-k must be at least 1, got -1/);
    await expect(
      run(['train', 'generator', '--qa', 'x', '--index', idx, '--out', path.join(dir, 'g'), '--gold-share', '1.5']),
    ).rejects.toThrow(/--gold-share must be between 0 and 1, got 1.5/);
  });
});

describe('ingest of files that are not clean text', () => {
  it('skips a binary .txt with a warning, counts invalid UTF-8, refuses both with --strict, and detects BEIR _id', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-ingest-'));
    const docs = path.join(dir, 'docs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(docs);
    writeFileSync(path.join(docs, 'good.txt'), 'Bats host many coronaviruses.\n');
    writeFileSync(
      path.join(docs, 'image.txt'),
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]),
    );
    writeFileSync(path.join(docs, 'latin1.txt'), Buffer.from('Caf\xe9 au lait and cr\xe8me br\xfbl\xe9e.\n', 'latin1'));
    const warnings: string[] = [];
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      warnings.push(String(chunk));
      return true;
    });
    let summary: { passages: number; [k: string]: unknown };
    try {
      summary = JSON.parse(await run(['index', docs, '--out', path.join(dir, 'idx'), '--json']));
    } finally {
      err.mockRestore();
    }
    expect(summary.passages).toBe(2); // good.txt and latin1.txt; image.txt skipped
    expect(warnings.join('')).toContain(`${path.join(docs, 'image.txt')}: skipped, it is a binary file`);
    expect(warnings.join('')).toContain(
      `${path.join(docs, 'latin1.txt')}: 4 invalid UTF-8 sequences replaced by U+FFFD`,
    );
    await expect(run(['index', docs, '--out', path.join(dir, 'idx2'), '--strict'])).rejects.toThrow(
      /image\.txt: binary file, not text/,
    );

    const beir = path.join(dir, 'corpus.jsonl');
    writeFileSync(
      beir,
      [
        { _id: 'd1', title: '', text: 'Surgical masks reduce droplets.' },
        { _id: 'd2', title: 'Fever', text: 'Fever is common.' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    await run(['index', beir, '--out', path.join(dir, 'beir-idx'), '--chunk-tokens', '0']);
    const hits = JSON.parse(await run(['search', path.join(dir, 'beir-idx'), 'masks', '-k', '1', '--json']));
    expect(hits.hits[0].id).toBe('d1');
  });
});

describe('model configs missing their sizes', () => {
  it('a config.json without hidden_size is refused naming the key, for encoders and decoders', async () => {
    const { cpSync, readFileSync: read, writeFileSync: write } = await import('node:fs');
    const { loadEncoder } = await import('@dalm/retriever');
    const { loadGenerator } = await import('@dalm/generator');
    const fixtures = path.join(path.resolve(__dirname, '..', '..', 'shared'), 'fixtures', 'hf-tiny');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-cfg-'));
    for (const name of ['bert-tiny', 'llama-tiny']) {
      const copy = path.join(dir, name);
      cpSync(path.join(fixtures, name), copy, { recursive: true });
      const file = path.join(copy, 'config.json');
      const cfg = JSON.parse(read(file, 'utf8'));
      delete cfg.hidden_size;
      write(file, JSON.stringify(cfg));
    }
    await expect(loadEncoder(path.join(dir, 'bert-tiny'))).rejects.toThrow(
      `${path.join(dir, 'bert-tiny', 'config.json')}: missing "hidden_size"`,
    );
    await expect(loadGenerator(path.join(dir, 'llama-tiny'))).rejects.toThrow(
      `${path.join(dir, 'llama-tiny', 'config.json')}: missing "hidden_size"`,
    );
  });
});
