/**
 * The CLI parses into the library's configs and prints what scripts need: index -> search ->
 * eval on a small corpus (BM25, fast), JSON outputs, and errors that name the bad input.
 */
import { describe, it, expect, beforeAll, afterEach, vi } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '@dalm/core';
import { runCli } from './helpers/run-cli';

const run = (args: string[]) => runCli(args);

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
    const summary = JSON.parse(
      await run(['index', path.join(dir, 'corpus.jsonl'), '--out', idx, '--chunk-tokens', '0', '--json']),
    );
    expect(summary).toMatchObject({ passages: 3, dense: null });
    const search = JSON.parse(await run(['search', idx, 'incubation period', '-k', '2', '--json']));
    expect(search.mode).toBe('bm25');
    expect(search.hits[0].id).toBe('c');
    const ev = JSON.parse(
      await run(['eval', 'retriever', '--index', idx, '--qa', path.join(dir, 'dev.jsonl'), '--json']),
    );
    expect(ev.primary).toBe('ndcg@10');
    expect(ev.results.bm25['hit@1']).toBe(1);
    expect(ev.results.bm25['mrr@10']).toBe(1);
    // Every query right: the interval of a constant has zero width; one system, no paired tests.
    expect(ev.ci95.bm25['hit@1']).toEqual([1, 1]);
    expect(ev.paired).toEqual({});
    expect(ev.skipped).toEqual({ withoutPositives: 0, notInIndex: 0, partlyInIndex: 0 });
  });

  it('counts QA examples without positive ids or whose ids are not in the index; errors when none match', async () => {
    const idx = path.join(dir, 'index');
    const qa = path.join(dir, 'mixed.jsonl');
    writeFileSync(
      qa,
      [
        { id: 'q1', question: 'Which animals host coronaviruses?', answers: ['bats'], positive_ids: ['a'] },
        { id: 'q2', question: 'no ids', answers: ['x'] },
        { id: 'q3', question: 'other corpus', answers: ['x'], positive_ids: ['nope'] },
      ]
        .map((q) => JSON.stringify(q))
        .join('\n'),
    );
    const ev = JSON.parse(await run(['eval', 'retriever', '--index', idx, '--qa', qa, '--json']));
    expect(ev.queries).toBe(1);
    expect(ev.skipped).toEqual({ withoutPositives: 1, notInIndex: 1, partlyInIndex: 0 });
    const none = path.join(dir, 'none.jsonl');
    writeFileSync(
      none,
      JSON.stringify({ id: 'q3', question: 'other corpus', answers: ['x'], positive_ids: ['nope'] }) + '\n',
    );
    await expect(run(['eval', 'retriever', '--index', idx, '--qa', none])).rejects.toThrow(
      `${none}: IrEvaluator: none of the 1 queries has a relevant id among the 3 indexed passages (e.g. "nope")`,
    );
  });

  const repoRoot = fileURLToPath(new URL('..', import.meta.url));
  const bertTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'bert-tiny');
  it.skipIf(!existsSync(bertTiny))(
    'tune fusion writes fusion.json; search and eval use it; eval reports ci95 and paired tests',
    async () => {
      const idx = path.join(dir, 'dense-index');
      await run([
        'index',
        path.join(dir, 'corpus.jsonl'),
        '--out',
        idx,
        '--chunk-tokens',
        '0',
        '--retriever',
        bertTiny,
        '--dense-kind',
        'exact',
        '--json',
      ]);
      const tuned = JSON.parse(
        await run([
          'tune',
          'fusion',
          '--index',
          idx,
          '--qa',
          path.join(dir, 'dev.jsonl'),
          '--methods',
          'rrf,minmax',
          '--dense-weights',
          '0.5',
          '--json',
        ]),
      );
      expect(tuned.file).toBe(path.join(idx, 'fusion.json'));
      expect(tuned.grid).toHaveLength(6); // 2 methods × weights 0, 0.5, 1
      expect(tuned.validation.score).toBeGreaterThanOrEqual(Math.max(tuned.validation.bm25, tuned.validation.dense));
      const stored = JSON.parse(readFileSync(path.join(idx, 'fusion.json'), 'utf8'));
      expect(stored.hybrid).toEqual(tuned.hybrid);
      const search = JSON.parse(await run(['search', idx, 'incubation period', '--json']));
      expect(search.mode).toBe('hybrid');
      expect(search.fusion).toEqual({ source: 'fusion.json', ...tuned.hybrid });
      const explicit = JSON.parse(await run(['search', idx, 'incubation period', '--fusion', 'zscore', '--json']));
      expect(explicit.fusion).toMatchObject({ source: 'explicit', method: 'zscore', weights: { dense: 1, bm25: 1 } });
      const ev = JSON.parse(
        await run([
          'eval',
          'retriever',
          '--index',
          idx,
          '--qa',
          path.join(dir, 'dev.jsonl'),
          '--modes',
          'bm25,dense,hybrid',
          '--json',
        ]),
      );
      expect(Object.keys(ev.ci95)).toEqual(['bm25', 'dense', 'hybrid']);
      expect(Object.keys(ev.paired)).toEqual(['dense', 'hybrid']);
      const p = ev.paired.dense['ndcg@10'];
      expect(p.delta).toBeCloseTo(ev.results.dense['ndcg@10'] - ev.results.bm25['ndcg@10'], 12);
      expect(p.low).toBeLessThanOrEqual(p.delta);
      expect(p.high).toBeGreaterThanOrEqual(p.delta);
      expect(p.p).toBeGreaterThan(0);
      expect(p.p).toBeLessThanOrEqual(1);
      expect(ev.fusion.source).toBe('fusion.json');
      expect(ev.results.hybrid['ndcg@10']).toBeCloseTo(tuned.validation.score, 12); // tuned and evaluated on the same two questions
    },
  );

  const llamaTiny = path.join(path.resolve(repoRoot, '../shared'), 'fixtures', 'hf-tiny', 'llama-tiny');
  it.skipIf(!existsSync(llamaTiny))(
    'eval generator compares settings on the same questions: ci95 per setting, paired against the first',
    async () => {
      const ev = JSON.parse(
        await run([
          'eval',
          'generator',
          '--generator',
          llamaTiny,
          '--qa',
          path.join(dir, 'dev.jsonl'),
          '--index',
          path.join(dir, 'index'),
          '--modes',
          'closed-book,bm25',
          '-k',
          '1',
          '--max-new-tokens',
          '3',
          '--json',
        ]),
      );
      expect(ev.setting).toBe('closed-book');
      expect(Object.keys(ev.results)).toEqual(['closed-book', 'bm25']);
      expect(ev.exact_match).toBe(ev.results['closed-book'].exact_match);
      expect(ev.count).toBe(2);
      expect(Object.keys(ev.ci95)).toEqual(['closed-book', 'bm25']);
      expect(ev.ci95.bm25.f1[0]).toBeLessThanOrEqual(ev.results.bm25.f1);
      expect(Object.keys(ev.paired)).toEqual(['bm25']);
      expect(ev.paired.bm25.f1.delta).toBeCloseTo(ev.results.bm25.f1 - ev.results['closed-book'].f1, 12);
    },
  );

  it('errors name the bad file, line or option', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"question": "ok?", "answers": ["x"]}\n{not json\n');
    await expect(run(['eval', 'retriever', '--index', path.join(dir, 'index'), '--qa', bad])).rejects.toThrow(
      `${bad}:2: malformed JSON`,
    );
    await expect(run(['index', path.join(dir, 'missing'), '--out', path.join(dir, 'x')])).rejects.toThrow(/missing/);
    await expect(run(['search', path.join(dir, 'index'), 'q', '--mode', 'dense'])).rejects.toThrow(
      /needs a dense index and its retriever/,
    );
    await expect(run(['pairs', '--out', path.join(dir, 'p.jsonl')])).rejects.toThrow(
      /give one of --qa, --labelled or --ict/,
    );
  });
});
