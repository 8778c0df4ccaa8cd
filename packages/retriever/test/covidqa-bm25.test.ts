/**
 * Real data: BM25 over the whole COVID-QA corpus (2,719 passages), evaluated on the 219 dev
 * questions, must reproduce the baseline in shared/bench/covidqa/README.md within ±0.01.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Bm25Index, IrEvaluator, loadCovidQaDataset } from '../src/index';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const covidqa = path.join(path.resolve(repoRoot, '../shared'), 'bench', 'covidqa');

describe.skipIf(!existsSync(covidqa))('BM25 on COVID-QA dev (real data)', () => {
  it('reproduces the README baseline: nDCG@10 0.587, recall@5 0.626, MRR@10 0.574 (±0.01)', async () => {
    const { corpus, queries, qrels } = await loadCovidQaDataset(covidqa, 'dev');
    expect(corpus).toHaveLength(2719);
    expect(queries).toHaveLength(219);
    const bm25 = Bm25Index.build(corpus); // k1 0.9, b 0.4, title + text
    const evaluator = new IrEvaluator(queries, qrels);
    const m = await evaluator.evaluate(bm25);
    console.log(
      'COVID-QA dev BM25:',
      JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, +v.toFixed(4)]))),
    );
    expect(Math.abs(m['ndcg@10']! - 0.587)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(m['recall@5']! - 0.626)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(m['mrr@10']! - 0.574)).toBeLessThanOrEqual(0.01);

    // The saved index reloads (statistics rebuilt from passages.jsonl) to the same numbers.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'covidqa-bm25-'));
    try {
      await bm25.save(dir);
      const t0 = performance.now();
      const loaded = await Bm25Index.load(dir);
      const loadMs = performance.now() - t0;
      expect(loadMs).toBeLessThan(5000);
      expect(await evaluator.evaluate(loaded)).toEqual(m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
