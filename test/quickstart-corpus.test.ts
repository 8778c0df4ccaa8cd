/**
 * `dalm quickstart --corpus DIR`: a domain from nothing but a folder of .txt/.md files (no
 * labels). A short run checks the pipeline end to end: cloze questions held out by document,
 * every stage's artifacts on disk, and metrics that are real numbers (BM25 finds the source
 * passage of cloze questions well above chance).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { escapeHtml, initEngine } from '@dalm/core';
import { runQuickstart } from '@dalm/trainer';

const covid = path.resolve(__dirname, '../../shared/bench/covidqa/corpus.jsonl');

describe.skipIf(!existsSync(covid))('quickstart on a folder of documents', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('runs every stage and reports held-out metrics', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'dalm-qs-'));
    const docs = path.join(root, 'docs');
    mkdirSync(docs);
    // 30 articles' first passages as Markdown files (read from shared/, written to a temp folder).
    const lines = readFileSync(covid, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; title: string; text: string });
    const firsts = lines.filter((p) => p.id.endsWith('-1')).slice(0, 30);
    for (const p of firsts) writeFileSync(path.join(docs, `${p.id}.md`), `# ${p.title}\n\n${p.text}\n`);
    const out = path.join(root, 'out');
    const report = await runQuickstart({
      out,
      corpus: docs,
      retrieverSteps: 5,
      generatorSteps: 5,
      evalQuestions: 10,
      evalShare: 0.2,
      quiet: true,
    });
    expect(report.heldOutQuestions).toBeGreaterThan(0);
    expect(report.trainQuestions).toBeGreaterThan(report.heldOutQuestions);
    for (const dir of [
      'retriever',
      'generator',
      'index',
      'report.json',
      'report.html',
      'data/validation.jsonl',
      'data/heldout.jsonl',
    ])
      expect(existsSync(path.join(out, dir))).toBe(true);
    // The HTML report shows both training runs and the report's examples (drawing is checked in report-browser.test.ts).
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const s of ['data-run="generator"', 'data-run="retriever"', escapeHtml(report.examples[0].question)])
      expect(html).toContain(s);
    // Cloze questions are copied from their passage with a blank: lexical retrieval finds it.
    expect(report.retrieval.bm25['recall@5']).toBeGreaterThan(0.5);
    expect(report.retrieval.bm25['ndcg@10']).toBeGreaterThan(0.5);
    // Metrics consistent with each other for every system: a hit at rank 1 counts fully in MRR, so
    // recall@1 <= mrr@10 <= 1, and recall@1 <= recall@5.
    for (const m of Object.values(report.retrieval)) {
      expect(m['recall@1']!).toBeLessThanOrEqual(m['mrr@10']! + 1e-12);
      expect(m['recall@1']!).toBeLessThanOrEqual(m['recall@5']! + 1e-12);
      expect(m['ndcg@10']!).toBeLessThanOrEqual(1 + 1e-12);
    }
    // The fusion is tuned on validation questions (training documents) and stored beside the index.
    expect(report.validationQuestions).toBeGreaterThan(0);
    const fusion = JSON.parse(readFileSync(path.join(out, 'index', 'fusion.json'), 'utf8'));
    expect(fusion.hybrid).toEqual(report.fusion.hybrid);
    expect(fusion.validation.queries).toBe(report.fusion.validation.queries);
    expect(report.fusion.validation.score).toBeGreaterThanOrEqual(
      Math.max(report.fusion.validation.bm25, report.fusion.validation.dense),
    );
    // Intervals bracket the means; paired tests of every retrieval system against bm25.
    for (const [sys, m] of Object.entries(report.retrieval)) {
      const [lo, hi] = report.ci95.retrieval[sys]!['ndcg@10']!;
      expect(lo).toBeLessThanOrEqual(m['ndcg@10']!);
      expect(hi).toBeGreaterThanOrEqual(m['ndcg@10']!);
    }
    expect(Object.keys(report.paired.retrieval)).toEqual([
      'dense_before',
      'dense_after',
      'hybrid_equal_rrf',
      'hybrid_after',
    ]);
    expect(report.paired.retrieval.hybrid_after!['ndcg@10']!.delta).toBeCloseTo(
      report.retrieval.hybrid_after['ndcg@10']! - report.retrieval.bm25['ndcg@10']!,
      12,
    );
    expect(Object.keys(report.paired.answers)).toEqual(['after', 'after_closed_book']);
    expect(report.examples.length).toBe(3);
    for (const e of report.examples) expect(typeof e.correct).toBe('boolean');
    expect(report.examples[0].citations.length).toBeGreaterThan(0);
  });
});
