/**
 * Load bench of `dalm serve`: the server on 127.0.0.1 (port 0, in this process), N concurrent
 * clients sending streaming `POST /v1/ask` for a fixed total of requests, bounded by --timeout-s.
 * Reports p50/p95 latency, p50/p95 time to first token, requests/s, and how many requests got a
 * complete answer (tokens, citations, done). Clients share the server's event loop, so the
 * figures include the clients' own parsing (a few ms per request at most).
 *
 *   pnpm bench serve [--index=DIR --generator=DIR [--retriever=DIR]] [--clients=4] [--requests=32]
 *                    [--max-tokens=16] [--max-concurrent=1] [--timeout-s=120] [--backend=...] [--json[=FILE]]
 *
 * Without --index/--generator it serves a 3-passage index over the tiny fixtures
 * (../shared/fixtures/hf-tiny: bert-tiny retriever, llama-tiny generator). There is no PyTorch
 * figure: the bench measures the HTTP layer and queueing over our own generator.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildIndexDir, loadEncoder } from '@dalm/retriever';
import { corpus } from '../packages/server/test/serve-corpus';
import { loadServeModels, startServer } from '@dalm/server';
import { fmt, intOption, parseBenchArgs, printHeader, printTable, startEngine, writeJson } from './harness';

const BENCH = 'serve';
const OPTIONS = [
  'index',
  'generator',
  'retriever',
  'clients',
  'requests',
  'max-tokens',
  'max-concurrent',
  'timeout-s',
  'backend',
];

const QUESTIONS = [
  'How long is the incubation period?',
  'Which animals host coronaviruses?',
  'What do surgical masks reduce?',
  'How is the virus transmitted?',
];

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

interface RequestResult {
  ok: boolean;
  latencyMs: number;
  ttftMs: number | null;
  status: number;
}

async function askOnce(url: string, question: string, maxTokens: number, signal: AbortSignal): Promise<RequestResult> {
  const t0 = performance.now();
  let ttft: number | null = null;
  try {
    const res = await fetch(`${url}/v1/ask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ question, max_tokens: maxTokens, stream: true }),
      signal,
    });
    if (!res.ok || !res.body) return { ok: false, latencyMs: performance.now() - t0, ttftMs: null, status: res.status };
    const decoder = new TextDecoder();
    let text = '';
    const reader = res.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      text += decoder.decode(r.value, { stream: true });
      if (ttft === null && text.includes('event: token')) ttft = performance.now() - t0;
    }
    const complete = /event: citations\n/.test(text) && /event: done\ndata: \{"answer"/.test(text);
    return { ok: complete, latencyMs: performance.now() - t0, ttftMs: ttft, status: res.status };
  } catch {
    return { ok: false, latencyMs: performance.now() - t0, ttftMs: ttft, status: 0 };
  }
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(BENCH, argv, OPTIONS, ['json']);
  const clients = intOption(BENCH, args, 'clients', 4);
  const requests = intOption(BENCH, args, 'requests', 32);
  const maxTokens = intOption(BENCH, args, 'max-tokens', 16);
  const maxConcurrent = intOption(BENCH, args, 'max-concurrent', 1);
  const timeoutS = intOption(BENCH, args, 'timeout-s', 120);
  if (requests > 10_000 || clients > 256)
    throw new Error(`bench ${BENCH}: at most 10000 requests and 256 clients (got ${requests}, ${clients})`);
  const { machine } = await startEngine(BENCH, args);
  printHeader(BENCH, argv, machine);

  let indexDir = args.index;
  let generator = args.generator;
  let retriever = args.retriever;
  if (!indexDir || !generator) {
    const tiny = path.resolve(import.meta.dirname, '../../shared/fixtures/hf-tiny');
    indexDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dalm-bench-serve-')), 'index');
    retriever = path.join(tiny, 'bert-tiny');
    generator = path.join(tiny, 'llama-tiny');
    const enc = await loadEncoder(retriever);
    await buildIndexDir(indexDir, corpus, enc, { denseKind: 'exact' }, retriever);
    enc.dispose();
    console.log(`serving the tiny fixtures (${tiny}); give --index and --generator for your own`);
  }
  const models = await loadServeModels({ index: indexDir, generator, retriever });
  const server = await startServer(models, {
    host: '127.0.0.1',
    port: 0,
    maxConcurrent,
    maxQueue: Math.max(16, clients),
    maxTokens: Math.max(maxTokens, 64),
  });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutS * 1000);
  const results: RequestResult[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests && !abort.signal.aborted) {
        const i = next++;
        results.push(await askOnce(server.url, QUESTIONS[i % QUESTIONS.length]!, maxTokens, abort.signal));
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  clearTimeout(timer);
  await server.close();
  models.dispose();

  const done = results.filter((r) => r.ok);
  const lat = done.map((r) => r.latencyMs);
  const ttft = done.map((r) => r.ttftMs).filter((x): x is number => x !== null);
  const summary = {
    clients,
    requests,
    sent: results.length,
    complete: done.length,
    failed: results.length - done.length,
    timedOut: abort.signal.aborted,
    maxTokens,
    maxConcurrent,
    wallS,
    requestsPerS: done.length / wallS,
    latencyMs: { p50: percentile(lat, 50), p95: percentile(lat, 95) },
    ttftMs: { p50: percentile(ttft, 50), p95: percentile(ttft, 95) },
    statuses: Object.fromEntries(
      [...new Set(results.map((r) => r.status))].map((s) => [s, results.filter((r) => r.status === s).length]),
    ),
    generator,
    index: indexDir,
  };
  printTable(
    `### dalm serve: ${clients} clients, ${requests} streaming /v1/ask requests, ${maxTokens} tokens each, ${maxConcurrent} generation(s) at once`,
    ['complete', 'req/s', 'latency p50 ms', 'latency p95 ms', 'TTFT p50 ms', 'TTFT p95 ms', 'wall s'],
    [
      [
        `${done.length}/${requests}`,
        fmt(summary.requestsPerS),
        fmt(summary.latencyMs.p50),
        fmt(summary.latencyMs.p95),
        fmt(summary.ttftMs.p50),
        fmt(summary.ttftMs.p95),
        fmt(wallS),
      ],
    ],
  );
  if (done.length < requests)
    console.log(
      `NOT every request got a complete answer: ${done.length}/${requests} (statuses ${JSON.stringify(summary.statuses)}${summary.timedOut ? `, stopped at --timeout-s=${timeoutS}` : ''})`,
    );
  else console.log('every request got a complete answer (tokens, citations, done)');
  await writeJson(args, summary);
  if (done.length < requests) process.exitCode = 1;
}
