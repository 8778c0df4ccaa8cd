import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  IR_METRIC_NAMES,
  IrEvaluator,
  PRIMARY_IR_METRIC,
  loadBeirDataset,
  readQrelsTsv,
  type Hit,
  type Qrels,
  type Retrieval,
} from '../src/index';

/** Fixed rankings per query: with them the expected metric values are exactly known. */
const rankings: Record<string, string[]> = { q1: ['a', 'b', 'c'], q2: ['x', 'y'], q3: ['a'] };
const stub: Retrieval = {
  search: async (query, { k }): Promise<Hit[]> =>
    (rankings[query] ?? [])
      .slice(0, k)
      .map((id, i) => ({ id, score: -i, passage: { id, text: id, source: id, start: 0, end: 1 } })),
};

describe('IrEvaluator', () => {
  const queries = [
    { id: 'q1', text: 'q1' },
    { id: 'q2', text: 'q2' },
    { id: 'q3', text: 'q3' }, // only a grade-0 judgement: left out
  ];
  const qrels: Qrels = new Map([
    ['q1', new Map([['b', 1]])],
    [
      'q2',
      new Map([
        ['x', 2],
        ['z', 1],
      ]),
    ],
    ['q3', new Map([['a', 0]])],
  ]);

  it('returns the fixed metric names, averaged over queries with relevant passages', async () => {
    const ev = new IrEvaluator(queries, qrels, { batchSize: 1 });
    expect(ev.primary).toBe('ndcg@10');
    expect(PRIMARY_IR_METRIC).toBe('ndcg@10');
    expect(ev.queries.map((q) => q.id)).toEqual(['q1', 'q2']);
    const m = await ev.evaluate(stub);
    expect(Object.keys(m)).toEqual([...IR_METRIC_NAMES]);
    // q1: first relevant at rank 2 of 1 relevant; q2: rank 1 holds grade 2, z (grade 1) never retrieved.
    expect(m['recall@1']).toBeCloseTo((0 + 1 / 2) / 2, 12);
    expect(m['recall@5']).toBeCloseTo((1 + 1 / 2) / 2, 12);
    expect(m['recall@100']).toBeCloseTo(0.75, 12);
    expect(m['hit@1']).toBe(0.5);
    expect(m['hit@10']).toBe(1);
    expect(m['mrr@10']).toBeCloseTo((1 / 2 + 1) / 2, 12);
    // q1: (1/log2 3) / 1 = 0.6309298; q2: 2 / (2 + 1/log2 3) = 0.7601875
    expect(m['ndcg@10']).toBeCloseTo((0.630929753571 + 0.760187533432) / 2, 10);
    // q1: (1/2)/1; q2: (1/1)/2
    expect(m['map@100']).toBeCloseTo(0.5, 12);
  });

  it('keeps per-query values in query order; their means are the metrics', async () => {
    const ev = new IrEvaluator(queries, qrels);
    const { metrics, perQuery, queryIds } = await ev.evaluateDetailed(stub);
    expect(queryIds).toEqual(['q1', 'q2']);
    expect(perQuery['hit@1']).toEqual([0, 1]);
    expect(perQuery['mrr@10']).toEqual([0.5, 1]);
    expect(perQuery['ndcg@10'][0]).toBeCloseTo(0.630929753571, 10);
    expect(perQuery['ndcg@10'][1]).toBeCloseTo(0.760187533432, 10);
    expect(metrics['ndcg@10']).toBeCloseTo((perQuery['ndcg@10'][0] + perQuery['ndcg@10'][1]) / 2, 14);
    expect(ev.skipped).toEqual({ noJudgements: 1, notInIndex: 0, partlyInIndex: 0 });
  });

  it('counts queries whose relevant ids are not in the index, instead of scoring them 0', async () => {
    // Indexed: a, b, x, y. q1 (b) kept; q2 (x grade 2, z) kept with z missing; q4 (only w) left out.
    const q4 = { id: 'q4', text: 'q4' };
    const withQ4: Qrels = new Map([...qrels, ['q4', new Map([['w', 1]])]]);
    const ev = new IrEvaluator([...queries, q4], withQ4, { passageIds: ['a', 'b', 'x', 'y'] });
    expect(ev.queries.map((q) => q.id)).toEqual(['q1', 'q2']);
    expect(ev.skipped).toEqual({ noJudgements: 1, notInIndex: 1, partlyInIndex: 1 });
    expect(ev.skippedNote()).toBe(
      'left out 1 without a relevant id, 1 whose relevant ids are not in the index; 1 kept with some relevant ids missing from the index',
    );
    expect((await ev.evaluate(stub))['hit@1']).toBe(0.5);
    expect(() => new IrEvaluator([q4], withQ4, { passageIds: ['a', 'b'] })).toThrow(
      'IrEvaluator: none of the 1 queries has a relevant id among the 2 indexed passages (e.g. "w"): do the judgements name this corpus\' ids?',
    );
  });

  it('refuses a query set with nothing relevant', () => {
    expect(() => new IrEvaluator([{ id: 'q3', text: 'q3' }], qrels)).toThrow(/no query has a relevant passage/);
  });
});

describe('BEIR layout', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  it('reads corpus, queries with judgements in the split, and graded qrels', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'beir-'));
    await mkdir(path.join(dir, 'qrels'));
    await writeFile(
      path.join(dir, 'corpus.jsonl'),
      '{"_id": "d1", "title": "T1", "text": "one"}\n{"_id": "d2", "title": "", "text": "two"}\n',
    );
    await writeFile(
      path.join(dir, 'queries.jsonl'),
      '{"_id": "1", "text": "first?"}\n{"_id": "2", "text": "second?"}\n',
    );
    await writeFile(path.join(dir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\n2\td1\t2\r\n2\td2\t0\n');
    const ds = await loadBeirDataset(dir, 'test');
    expect(ds.corpus).toEqual([
      { id: 'd1', title: 'T1', text: 'one', source: 'd1', start: 0, end: 3 },
      { id: 'd2', text: 'two', source: 'd2', start: 0, end: 3 },
    ]);
    expect(ds.queries).toEqual([{ id: '2', text: 'second?' }]);
    expect(ds.qrels).toEqual(
      new Map([
        [
          '2',
          new Map([
            ['d1', 2],
            ['d2', 0],
          ]),
        ],
      ]),
    );
    await expect(loadBeirDataset(dir, 'dev')).rejects.toThrow(/missing qrels file: .*qrels\/dev\.tsv/);
    await writeFile(path.join(dir, 'qrels', 'bad.tsv'), 'query-id\tcorpus-id\tscore\n1\td1\n');
    await expect(readQrelsTsv(path.join(dir, 'qrels', 'bad.tsv'))).rejects.toThrow(
      /bad\.tsv:2: expected "query-id<TAB>corpus-id<TAB>score"/,
    );
  });
});
