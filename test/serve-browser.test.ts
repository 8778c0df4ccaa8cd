/**
 * The `dalm serve` web page in headless Chromium (system browser, playwright-core): type a
 * question, wait for the streamed answer, check the cited passages appear with scores and that a
 * citation link shows the passage text; no console errors. Screenshot: test-artifacts/serve.png.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initEngine } from '@dalm/core';
import { buildIndexDir, loadEncoder } from '@dalm/retriever';
import { corpus } from '../packages/server/test/serve-corpus';
import { loadServeModels, startServer, type RunningServer, type ServeModels } from '@dalm/server';
import { chromiumMissing, launchChromium } from './chromium';

const repoRoot = path.resolve(__dirname, '..');
const shared = path.resolve(repoRoot, '../shared');
const bertTiny = path.join(shared, 'fixtures', 'hf-tiny', 'bert-tiny');
const llamaTiny = path.join(shared, 'fixtures', 'hf-tiny', 'llama-tiny');
const missing =
  chromiumMissing() ??
  (existsSync(llamaTiny) && existsSync(bertTiny) ? null : `no tiny fixtures at ${path.dirname(llamaTiny)}`);
if (missing) console.warn(`serve-browser: skipped: ${missing}`);

describe.skipIf(missing !== null)('dalm serve web page in Chromium', () => {
  let models: ServeModels;
  let server: RunningServer;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    const indexDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dalm-serve-page-')), 'index');
    const enc = await loadEncoder(bertTiny);
    await buildIndexDir(indexDir, corpus, enc, { denseKind: 'exact' }, bertTiny);
    enc.dispose();
    models = await loadServeModels({ index: indexDir, generator: llamaTiny, retriever: bertTiny, runtime: 'tfjs' });
    server = await startServer(models, { port: 0 });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    models?.dispose();
  });

  it('streams an answer and lists the cited passages', async () => {
    const { context, close } = await launchChromium();
    const errors: string[] = [];
    try {
      const page = await context.newPage();
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(server.url + '/');
      await expect.poll(() => page.textContent('#model')).toBe('llama-tiny');
      await page.fill('#question', 'How long is the incubation period?');
      await page.fill('#max-tokens', '12');
      await page.click('#ask-button');
      await page.waitForSelector('#answer[data-done="true"]', { timeout: 30_000 });
      const expected = (await (
        await fetch(server.url + '/v1/ask', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question: 'How long is the incubation period?', max_tokens: 12, k: 3 }),
        })
      ).json()) as {
        answer: string;
        citations: { id: string; score: number }[];
      };
      expect(await page.textContent('#answer')).toBe(expected.answer);
      const items = await page.$$eval('#citations li', (lis) => lis.map((li) => li.textContent ?? ''));
      expect(items.length).toBe(expected.citations.length);
      expected.citations.forEach((c, i) => {
        expect(items[i]).toContain(`[${c.id}]`);
        expect(items[i]).toContain(`score ${c.score.toFixed(4)}`);
      });
      await page.click('#citations li a');
      await page.waitForSelector('#passage:not([hidden])');
      expect(await page.textContent('#passage')).toContain(corpus.find((p) => p.id === expected.citations[0].id)!.text);
      mkdirSync(path.join(repoRoot, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(repoRoot, 'test-artifacts', 'serve.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  }, 90_000);
});
