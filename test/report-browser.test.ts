/**
 * `dalm report` on real training output, checked in a real browser. A quickstart-shaped directory
 * is built from short real runs on a synthetic domain (made-up countries and their capitals):
 * runs/retriever (contrastive training with evaluations every 10 steps), runs/e2e (end-to-end
 * training in 'reindex' mode, so re-index events are logged), report.json with IR metrics measured
 * before and after the retriever run, RAG answers, and index/passages.jsonl. The CLI writes
 * report.html; headless Chromium opens it from file:// and the test checks every chart drew (canvas
 * size, painted pixels, one laid-out point per metrics.jsonl line), the table cells hold the
 * report.json numbers, the examples show their cited passages, and nothing logged an error or
 * asked for the network. A screenshot is kept in test-artifacts/report.png.
 *
 * The ci95 / paired values in report.json are written by this test (the evaluators add them
 * elsewhere): they check rendering only.
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { initEngine, trainByteLevelBPE, trainWordPiece, type Tokenizer } from '@dalm/core';
import { createEncoder, ExactIndex, IrEvaluator, Bm25Index, type Encoder, type Passage } from '@dalm/retriever';
import { createCausalLM, RagPipeline, scoreAnswers, validatePromptFormat } from '@dalm/generator';
import { readMetricLog, trainEndToEnd, trainRetriever, type QaExample } from '@dalm/trainer';
import { buildProgram } from '@dalm/cli';
import { chromiumMissing, launchChromium } from './chromium';

const repoRoot = path.resolve(__dirname, '..');
const artifacts = path.join(repoRoot, 'test-artifacts');

const SYL = ['ka', 'lo', 'mi', 'ra', 'to', 'ne', 'vu', 'si', 'da', 'po', 'ze', 'bi'];
const CITIES = [
  'Amber',
  'Birch',
  'Cedar',
  'Dune',
  'Ember',
  'Frost',
  'Grove',
  'Harbor',
  'Iris',
  'Jade',
  'Kelp',
  'Lumen',
  'Moss',
  'Nectar',
  'Onyx',
  'Pine',
  'Quartz',
  'Reed',
  'Slate',
  'Thorn',
];
const COUNTRIES = CITIES.map((capital, i) => ({
  country: SYL[i % 12]! + SYL[(i * 5 + 3) % 12]! + SYL[(i * 7 + 1) % 12]!,
  capital,
}));
const CORPUS: Passage[] = COUNTRIES.map((d, i) => {
  const text = `The capital of ${d.country} is ${d.capital}. ${d.country} trades ${['salt', 'tea', 'wool', 'iron'][i % 4]} with its neighbours.`;
  return { id: `p${i}`, title: d.country, text, source: `doc${i}.md`, start: 0, end: text.length };
});
const QA: QaExample[] = COUNTRIES.map((d, i) => ({
  id: `q${i}`,
  question: `What is the capital of ${d.country}?`,
  answers: [d.capital],
  positiveIds: [`p${i}`],
}));
const FORMAT = validatePromptFormat({
  instruction: '',
  passageTemplate: '{text}\n',
  questionTemplate: '{question}\n',
  answerPrefix: 'A:',
});

function tinyEncoder(tokenizer: Tokenizer): Encoder {
  return createEncoder({
    tokenizer,
    config: {
      hidden_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 64,
      hidden_dropout_prob: 0,
      attention_probs_dropout_prob: 0,
    },
    settings: { maxLength: 48, pooling: 'mean', normalize: true },
    seed: 3,
  });
}

async function dalm(args: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'dalm', '--quiet', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

let root: string;
let out: string;
let report: Record<string, any>;
let retrieverLog: Record<string, unknown>[];
let e2eLog: Record<string, unknown>[];

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
  root = mkdtempSync(path.join(os.tmpdir(), 'dalm-report-'));
  out = path.join(root, 'quickstart');
  const texts = CORPUS.flatMap((p) => [p.text, ...QA.map((q) => q.question)]);
  const wordPiece = trainWordPiece(texts, { vocabSize: 300 });
  const bpe = trainByteLevelBPE([...texts, ...QA.map((q) => `${q.question}\nA: ${q.answers[0]}`)], { vocabSize: 300 });

  // Retriever: before -> 30 steps (evaluated every 10) -> after, on the same questions.
  const encoder = tinyEncoder(wordPiece);
  const evaluator = new IrEvaluator(
    QA.map((q) => ({ id: q.id, text: q.question })),
    new Map(QA.map((q) => [q.id, new Map([[q.positiveIds![0]!, 1]])])),
  );
  const denseMetrics = async () => {
    await encoder.ensureFingerprint();
    const index = await ExactIndex.build(encoder, CORPUS);
    const m = await evaluator.evaluate(index);
    index.dispose();
    return m;
  };
  const bm25 = Bm25Index.build(CORPUS);
  const before = await denseMetrics();
  const pairs = QA.map((q, i) => ({ query: q.question, positive: CORPUS[i]!.text, positiveId: CORPUS[i]!.id }));
  await trainRetriever(
    encoder,
    pairs,
    {
      steps: 30,
      batchSize: 8,
      learningRate: 3e-3,
      warmupSteps: 3,
      logEvery: 1,
      evalEvery: 10,
      runDir: path.join(out, 'runs', 'retriever'),
      quiet: true,
    },
    { evaluate: () => denseMetrics() },
  );
  const after = await denseMetrics();

  // End-to-end, 'reindex' mode: 6 steps, the index rebuilt every 2.
  const model = createCausalLM(
    {
      model_type: 'llama',
      vocab_size: bpe.vocabSize,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 128,
      tie_word_embeddings: true,
      bos_token_id: bpe.special.bos,
      eos_token_id: bpe.special.eos,
      pad_token_id: bpe.special.pad,
    },
    5,
  );
  const e2e = await trainEndToEnd(encoder, model, bpe, FORMAT, QA, CORPUS, {
    passageMode: 'reindex',
    reindexEvery: 2,
    steps: 6,
    logEvery: 1,
    batchSize: 4,
    k: 2,
    learningRate: 1e-3,
    warmupSteps: 1,
    maxSeqLength: 96,
    runDir: path.join(out, 'runs', 'e2e'),
    quiet: true,
  });
  e2e.passages.dispose();

  // Answers and examples from the trained pipeline (a tiny model: the answers are poor, the numbers real).
  const index = await ExactIndex.build(encoder, CORPUS);
  const rag = new RagPipeline(model, bpe, FORMAT, index);
  const answers = await rag.askMany(
    QA.slice(0, 8).map((q) => q.question),
    { k: 2, generate: { maxNewTokens: 4 } },
  );
  const answerMetrics = scoreAnswers(answers.map((a, i) => ({ prediction: a.answer, references: QA[i]!.answers })));
  index.dispose();
  model.dispose();
  encoder.dispose();

  mkdirSync(path.join(out, 'index'), { recursive: true });
  writeFileSync(path.join(out, 'index', 'passages.jsonl'), CORPUS.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const ndcg = 'ndcg@10';
  report = {
    domain: 'synthetic capitals',
    documents: CORPUS.length,
    passages: CORPUS.length,
    trainQuestions: QA.length,
    heldOutQuestions: QA.length,
    retrieval: {
      bm25: await evaluator.evaluate(bm25),
      dense_before: before,
      // Rendering inputs for intervals and paired differences (see the header).
      dense_after: {
        ...after,
        ci95: { [ndcg]: [after[ndcg]! - 0.05, Math.min(1, after[ndcg]! + 0.05)] },
        paired: {
          dense_before: {
            [ndcg]: {
              delta: after[ndcg]! - before[ndcg]!,
              low: after[ndcg]! - before[ndcg]! - 0.04,
              high: after[ndcg]! - before[ndcg]! + 0.04,
              p: 0.0004,
            },
          },
        },
      },
    },
    answers: { after: answerMetrics },
    examples: answers.slice(0, 3).map((a, i) => ({
      question: a.question,
      reference: QA[i]!.answers[0],
      answer: a.answer,
      correct: a.answer.trim().toLowerCase() === QA[i]!.answers[0]!.toLowerCase(),
      citations: a.citations.map((c) => ({ id: c.id, source: c.source, score: c.score })),
    })),
    seconds: 12.5,
  };
  writeFileSync(path.join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  retrieverLog = await readMetricLog(path.join(out, 'runs', 'retriever', 'metrics.jsonl'));
  e2eLog = await readMetricLog(path.join(out, 'runs', 'e2e', 'metrics.jsonl'));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const stepLines = (log: Record<string, unknown>[]) => log.filter((r) => typeof r.loss === 'number');
const evalLines = (log: Record<string, unknown>[]) => log.filter((r) => r.event === 'eval');

describe('dalm report', () => {
  it('writes report.html for a quickstart-shaped directory and prints its path', async () => {
    // The runs are what the tests below expect to see drawn.
    expect(stepLines(retrieverLog).length).toBe(30);
    expect(evalLines(retrieverLog).map((r) => r.step)).toEqual([10, 20, 30]);
    expect(e2eLog.filter((r) => r.event === 'reindex').map((r) => r.step)).toEqual([2, 4, 6]);

    const printed = (await dalm(['report', out])).trim();
    expect(printed).toBe(path.join(out, 'report.html'));
    const html = readFileSync(printed, 'utf8');
    expect(html).toContain('Chart.js v4.'); // the library is inlined
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i); // nothing loaded from anywhere

    const summary = JSON.parse(await dalm(['report', out, '--out', path.join(root, 'elsewhere', 'r.html'), '--json']));
    expect(summary.file).toBe(path.join(root, 'elsewhere', 'r.html'));
    expect(summary.runs.map((r: { name: string; steps: number }) => [r.name, r.steps])).toEqual([
      ['e2e', 6],
      ['retriever', 30],
    ]);
    expect(summary.tables.map((t: { rows: string[] }) => t.rows)).toEqual([
      ['bm25', 'dense_before', 'dense_after'],
      ['after'],
    ]);
    expect(summary.examples).toBe(3);
  });

  it('names the missing file', async () => {
    const empty = path.join(root, 'empty');
    mkdirSync(empty);
    await expect(dalm(['report', empty])).rejects.toThrow(
      /empty: no metrics\.jsonl \(looked for .*empty\/metrics\.jsonl/,
    );
    await expect(dalm(['report', path.join(root, 'nope')])).rejects.toThrow(/nope: no such directory/);
    const bad = path.join(root, 'bad');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'metrics.jsonl'), '{"step": 1, "loss": 2}\n{oops\n');
    await expect(dalm(['report', bad])).rejects.toThrow(/bad\/metrics\.jsonl:2: not valid JSON/);
  });

  const missing = chromiumMissing();
  it.skipIf(missing !== null)(
    `draws every chart in headless Chromium${missing ? ` (skipped: ${missing})` : ''}`,
    async () => {
      const file = path.join(out, 'report.html');
      await dalm(['report', out]);
      const { context, close } = await launchChromium();
      try {
        const page = await context.newPage();
        const problems: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        page.on('request', (r) => requests.push(r.url()));
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
        await page.waitForFunction(() => (window as any).dalmReport !== undefined, null, { timeout: 10_000 });

        // Every chart: a canvas with a size, painted pixels, and one laid-out point per data value.
        const charts: {
          id: string;
          w: number;
          h: number;
          painted: number;
          datasets: { label: string; type: string; n: number; laidOut: number; inside: number; xs: number[] }[];
        }[] = await page.evaluate(() => {
          const Chart = (window as any).Chart;
          return Array.from(document.querySelectorAll('canvas')).map((c) => {
            const chart = Chart.getChart(c);
            const ctx = (c as HTMLCanvasElement).getContext('2d')!;
            const px = ctx.getImageData(0, 0, c.width, c.height).data;
            let painted = 0;
            for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) painted++;
            const area = chart.chartArea;
            return {
              id: c.id,
              w: c.getBoundingClientRect().width,
              h: c.getBoundingClientRect().height,
              painted,
              datasets: chart.data.datasets.map((d: any, i: number) => {
                const meta = chart.getDatasetMeta(i);
                const pts = meta.data.filter((e: any) => Number.isFinite(e.x) && Number.isFinite(e.y));
                const inside = pts.filter((e: any) => e.x >= area.left - 1 && e.x <= area.right + 1).length;
                return {
                  label: d.label,
                  type: meta.type,
                  n: d.data.length,
                  laidOut: pts.length,
                  inside,
                  xs: d.data.map((p: any) => p?.x),
                };
              }),
            };
          });
        });
        const byId = new Map(charts.map((c) => [c.id, c]));
        // Retrieval table (3 systems: bars; the 1-row answers table has none); e2e (run0): loss, grad,
        // values the recipe logged; retriever (run1): loss, grad, evaluations.
        expect(charts.map((c) => c.id).sort()).toEqual([
          'run0-extra',
          'run0-grad',
          'run0-loss',
          'run1-eval',
          'run1-grad',
          'run1-loss',
          'table0-bars',
        ]);
        for (const c of charts) {
          expect(c.w, c.id).toBeGreaterThan(300);
          expect(c.h, c.id).toBeGreaterThan(200);
          expect(c.painted, c.id).toBeGreaterThan(2000);
          for (const d of c.datasets)
            if (!(c.id === 'run1-eval' && d.n === 0)) expect(d.laidOut, `${c.id} ${d.label}`).toBe(d.n);
        }
        const loss = byId.get('run1-loss')!;
        expect(loss.datasets.map((d) => [d.label, d.n, d.inside])).toEqual([
          ['loss', 30, 30],
          ['learning rate', 30, 30],
        ]);
        expect(loss.datasets[0]!.xs).toEqual(stepLines(retrieverLog).map((r) => r.step));
        const evals = byId.get('run1-eval')!;
        const evalMetrics = Object.keys(evalLines(retrieverLog)[0]!).filter(
          (k) => !['time', 'step', 'event'].includes(k),
        );
        expect(evals.datasets.length).toBe(evalMetrics.length); // 11 IR metrics
        for (const d of evals.datasets) expect(d.xs).toEqual([10, 20, 30]);
        const e2eLoss = byId.get('run0-loss')!;
        expect(e2eLoss.datasets.find((d) => d.label === 're-index')?.xs).toEqual([2, 4, 6]);
        const bars = byId.get('table0-bars')!;
        expect(bars.datasets.map((d) => d.label)).toEqual(['BM25', 'dense, before training', 'dense, after training']);

        // Tables hold the report.json numbers, with the interval and the paired difference.
        const cell = async (table: number, row: string, metric: string) =>
          (
            await page
              .locator(`[data-table="${table}"] table.metrics tr[data-row="${row}"] td[data-metric="${metric}"]`)
              .first()
              .innerText()
          ).trim();
        for (const row of ['bm25', 'dense_before', 'dense_after']) {
          expect(await cell(0, row, 'recall@1')).toContain(report.retrieval[row]['recall@1'].toFixed(4));
        }
        const ndcg = report.retrieval.dense_after['ndcg@10'];
        const [lo, hi] = report.retrieval.dense_after.ci95['ndcg@10'];
        expect(await cell(0, 'dense_after', 'ndcg@10')).toBe(
          `${ndcg.toFixed(4)}\n[${lo.toFixed(3)}, ${hi.toFixed(3)}]`,
        );
        const paired = (
          await page.locator('[data-table="0"] details.paired tr[data-vs="dense_before"]').innerText()
        ).replace(/\s+/g, ' ');
        expect(paired).toContain('< 0.001');
        expect(await cell(1, 'after', 'f1')).toBe(report.answers.after.f1.toFixed(4));

        // Examples: question, answer, the correct mark, and the cited passages' text from index/passages.jsonl.
        const examples = page.locator('article.example');
        expect(await examples.count()).toBe(3);
        for (let i = 0; i < 3; i++) {
          const ex = report.examples[i];
          const text = await examples.nth(i).innerText();
          expect(text).toContain(ex.question);
          expect(text).toContain(ex.correct ? 'correct' : 'incorrect');
          const first = CORPUS.find((p) => p.id === ex.citations[0].id)!;
          expect(await examples.nth(i).locator('blockquote').first().innerText()).toBe(first.text);
        }

        mkdirSync(artifacts, { recursive: true });
        const shot = path.join(artifacts, 'report.png');
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`report screenshot: ${shot}`);

        expect(problems).toEqual([]);
        expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      } finally {
        await close();
      }
    },
  );
});
