/**
 * The report renderer's pure parts on hand-written inputs in the formats the framework writes:
 * metrics.jsonl lines as the training loop writes them (step lines, an e2e re-index folded into a
 * step line, evaluations, a resume that repeats steps), report.json / eval JSON metric objects with
 * and without ci95 / paired, the loader's errors, and the page (escaped text, inlined library, chart
 * configurations that parse back). Drawing is checked in a browser by test/report-browser.test.ts.
 */
import { describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  loadRunReportData,
  parseMetricLines,
  renderRunReport,
  runCharts,
  tableChart,
  tableFromEvalJson,
  tablesFromReportJson,
  trainingRunFromLines,
  type RunReportData,
} from '../src/index';

const T = '2026-12-02T10:00:00.000Z';
const LINES = [
  { time: T, step: 1, loss: 2.5, lr: 0.001, grad_norm: 3.1, step_ms: 120, gold_retrieved: 0.25 },
  {
    time: T,
    step: 2,
    loss: 2.25,
    lr: 0.002,
    grad_norm: 2.9,
    step_ms: 110,
    gold_retrieved: 0.5,
    event: 'reindex',
    reindex_ms: 40,
    reindexed_passages: 20,
  },
  { time: T, event: 'checkpoint', step: 2, dir: '/r/checkpoints/step-2' },
  { time: T, event: 'resume', step: 2, from: '/r/checkpoints/step-2' },
  { time: T, step: 3, loss: 2.0, lr: 0.0015, grad_norm: 2.5, step_ms: 100, gold_retrieved: 0.5 },
  { time: T, step: 3, loss: 1.9, lr: 0.0015, grad_norm: 2.4, step_ms: 101, gold_retrieved: 0.75 }, // repeated after a crash: the last wins
  { time: T, event: 'eval', step: 3, 'ndcg@10': 0.4, 'recall@1': 0.25 },
  { time: T, event: 'end', step: 3, leaked_tensors: 0 },
];
const TEXT = LINES.map((l) => JSON.stringify(l)).join('\n') + '\n\n';

describe('metrics.jsonl', () => {
  it('sorts lines into steps, evaluations and events', () => {
    const run = trainingRunFromLines('e2e', 'm.jsonl', parseMetricLines(TEXT, 'm.jsonl'));
    expect(run.steps.map((s) => [s.step, s.loss])).toEqual([
      [1, 2.5],
      [2, 2.25],
      [3, 1.9],
    ]);
    expect(run.steps[2]).toEqual({
      step: 3,
      loss: 1.9,
      lr: 0.0015,
      grad_norm: 2.4,
      step_ms: 101,
      extra: { gold_retrieved: 0.75 },
    });
    expect(run.evals).toEqual([{ step: 3, metrics: { 'ndcg@10': 0.4, 'recall@1': 0.25 } }]);
    expect(run.events.map((e) => [e.event, e.step])).toEqual([
      ['reindex', 2],
      ['checkpoint', 2],
      ['resume', 2],
      ['end', 3],
    ]);
    expect(run.events[0]!.values).toEqual({ gold_retrieved: 0.5, reindex_ms: 40, reindexed_passages: 20 });
  });

  it('names the file and line of bad input', () => {
    expect(() => parseMetricLines('{"step": 1}\n{nope\n', 'runs/a/metrics.jsonl')).toThrow(
      'runs/a/metrics.jsonl:2: not valid JSON',
    );
    expect(() => parseMetricLines('[1, 2]\n', 'm.jsonl')).toThrow('m.jsonl:1: expected a JSON object');
    expect(() => trainingRunFromLines('x', 'm.jsonl', [{ loss: 1 }])).toThrow('m.jsonl: line 1 has no numeric "step"');
  });

  it('charts one point per step, lr on its own axis, re-index markers at their steps', () => {
    const run = trainingRunFromLines('e2e', 'm.jsonl', parseMetricLines(TEXT, 'm.jsonl'));
    const charts = runCharts(run, 0);
    expect(charts.map((c) => c.id)).toEqual(['run0-loss', 'run0-grad', 'run0-extra', 'run0-eval']);
    const [loss, , extra, ev] = charts;
    const ds = loss!.config.data.datasets;
    expect(ds.map((d) => d.label)).toEqual(['loss', 'learning rate', 're-index']);
    expect(ds[0]!.data).toEqual([
      { x: 1, y: 2.5 },
      { x: 2, y: 2.25 },
      { x: 3, y: 1.9 },
    ]);
    expect(ds[1]!.yAxisID).toBe('lr');
    expect(ds[2]!.data).toEqual([{ x: 2, y: 2.25 }]);
    expect(extra!.config.data.datasets.map((d) => d.label)).toEqual(['gold_retrieved']);
    expect(ev!.config.data.datasets.map((d) => [d.label, d.data])).toEqual([
      ['ndcg@10', [{ x: 3, y: 0.4 }]],
      ['recall@1', [{ x: 3, y: 0.25 }]],
    ]);
  });
});

describe('metric tables', () => {
  const report = {
    domain: 'wordnet noun.food',
    heldOutQuestions: 200,
    retrieval: {
      bm25: { 'recall@1': 0.3, 'ndcg@10': 0.5 },
      dense_after: {
        'recall@1': 0.4,
        'ndcg@10': 0.6,
        ci95: { 'ndcg@10': [0.55, 0.65], 'recall@1': { low: 0.35, high: 0.45 } },
        paired: { bm25: { 'ndcg@10': { delta: 0.1, low: 0.05, high: 0.15, p: 0.002 } } },
      },
    },
    answers: { before: { exact_match: 0, f1: 0.1, count: 200 }, after: { exact_match: 0.2, f1: 0.3, count: 200 } },
    examples: [],
    seconds: 373,
  };

  it('reads report.json tables with intervals and paired differences when present', () => {
    const [retrieval, answers] = tablesFromReportJson(report, 'report.json');
    expect(retrieval!.title).toBe('Retrieval on held-out questions (n = 200)');
    expect(retrieval!.primary).toBe('ndcg@10');
    expect(retrieval!.rows.map((r) => r.label)).toEqual(['BM25', 'dense, after training']);
    expect(retrieval!.rows[0]!.ci95).toEqual({});
    expect(retrieval!.rows[1]!.ci95).toEqual({ 'ndcg@10': [0.55, 0.65], 'recall@1': [0.35, 0.45] });
    expect(retrieval!.rows[1]!.paired).toEqual({
      bm25: { 'ndcg@10': { delta: 0.1, low: 0.05, high: 0.15, p: 0.002 } },
    });
    expect(answers!.metrics).toEqual(['exact_match', 'f1']); // count is n, not a metric
    expect(answers!.primary).toBe('f1');
  });

  it('reads dalm eval retriever / generator JSON and ignores other JSON', () => {
    const r = tableFromEvalJson(
      { primary: 'mrr@10', queries: 7, results: { bm25: { 'mrr@10': 0.5 }, dense: { 'mrr@10': 0.75 } } },
      'eval-dev.json',
    )!;
    expect([r.title, r.primary, r.rows.map((x) => x.key)]).toEqual(['Retrieval (n = 7)', 'mrr@10', ['bm25', 'dense']]);
    const g = tableFromEvalJson(
      { primary: 'f1', setting: 'rag-bm25-k3', exact_match: 0.25, f1: 0.5, count: 4 },
      'gen.json',
    )!;
    expect([g.title, g.rows[0]!.key, g.rows[0]!.values]).toEqual([
      'Answers (n = 4)',
      'rag-bm25-k3',
      { exact_match: 0.25, f1: 0.5 },
    ]);
    expect(tableFromEvalJson({ step: 3, seed: 1 }, 'trainer-state.json')).toBeNull();
  });

  it('draws a bar per system and metric; none for a single system', () => {
    const [retrieval, answers] = tablesFromReportJson(report, 'report.json');
    const bars = tableChart(retrieval!, 0)!;
    expect(bars.config.data.labels).toEqual(['ndcg@10', 'recall@1']);
    expect(bars.config.data.datasets.map((d) => d.data)).toEqual([
      [0.5, 0.3],
      [0.6, 0.4],
    ]);
    expect(tableChart({ ...answers!, rows: answers!.rows.slice(0, 1) }, 1)).toBeNull();
  });
});

describe('loadRunReportData / renderRunReport', () => {
  it('finds sub-runs and eval JSON, fills cited passage text from index/passages.jsonl', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dalm-report-unit-'));
    mkdirSync(path.join(dir, 'runs', 'retriever'), { recursive: true });
    writeFileSync(path.join(dir, 'runs', 'retriever', 'metrics.jsonl'), TEXT);
    writeFileSync(
      path.join(dir, 'runs', 'retriever', 'eval-dev.json'),
      JSON.stringify({ primary: 'ndcg@10', queries: 3, results: { dense: { 'ndcg@10': 0.7 } } }),
    );
    mkdirSync(path.join(dir, 'index'));
    writeFileSync(
      path.join(dir, 'index', 'passages.jsonl'),
      '{"id":"a","text":"Apples are <red>."}\n{"id":"b","text":"Bagels are bread."}\n',
    );
    const examples = [
      {
        question: 'What <b>is</b> a bagel?',
        reference: 'bread',
        answer: 'bread',
        correct: true,
        citations: [
          { id: 'b', score: 0.9 },
          { id: 'a', score: 0.1 },
        ],
      },
    ];
    writeFileSync(
      path.join(dir, 'report.json'),
      JSON.stringify({ domain: 'd', retrieval: { bm25: { 'ndcg@10': 0.5 } }, examples }),
    );
    const data = await loadRunReportData(dir);
    expect(data.title).toBe('Quickstart: d');
    expect(data.runs.map((r) => [r.name, r.steps.length])).toEqual([['retriever', 3]]);
    expect(data.tables.map((t) => t.source)).toEqual(['report.json', path.join('runs', 'retriever', 'eval-dev.json')]);
    expect(data.examples[0]!.citations.map((c) => c.text)).toEqual(['Bagels are bread.', 'Apples are <red>.']);

    const html = renderRunReport(data);
    expect(html).toContain('What &lt;b&gt;is&lt;/b&gt; a bagel?');
    expect(html).toContain('Apples are &lt;red&gt;.');
    expect(html).toContain('✓ correct');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    const json = /<script type="application\/json" id="report-charts">(.*?)<\/script>/s.exec(html)![1]!;
    expect(JSON.parse(json).map((c: { id: string }) => c.id)).toEqual([
      'run0-loss',
      'run0-grad',
      'run0-extra',
      'run0-eval',
    ]);
  });

  it('errors name the missing directory or file', async () => {
    await expect(loadRunReportData('/nonexistent/run')).rejects.toThrow('/nonexistent/run: no such directory');
    const empty = mkdtempSync(path.join(os.tmpdir(), 'dalm-report-empty-'));
    await expect(loadRunReportData(empty)).rejects.toThrow(
      `${empty}: no metrics.jsonl (looked for ${path.join(empty, 'metrics.jsonl')}`,
    );
    writeFileSync(path.join(empty, 'report.json'), '{"domain": ');
    await expect(loadRunReportData(empty)).rejects.toThrow(`${path.join(empty, 'report.json')}: not valid JSON`);
  });

  it('escapes everything that could close the chart script', () => {
    const data: RunReportData = {
      title: 'x',
      dir: null,
      summary: [],
      runs: [
        {
          name: '</script><script>alert(1)</script>',
          file: 'f',
          steps: [{ step: 1, loss: 1, lr: null, grad_norm: null, step_ms: null, extra: {} }],
          evals: [],
          events: [],
        },
      ],
      tables: [],
      examples: [],
    };
    const html = renderRunReport(data);
    expect(html).not.toContain('<script>alert(1)');
    expect(html.match(/<\/script>/g)!.length).toBe(3); // library, chart configs, bootstrap
  });
});
