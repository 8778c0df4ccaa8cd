/**
 * `dalm serve`'s API against a tiny index (bert-tiny dense + BM25) and a tiny Llama, on 127.0.0.1
 * port 0, spoken to by the real `openai` npm client and by fetch: content checks, validation and
 * limits with their status codes, a client leaving mid-stream, and close() finishing in-flight work.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { initEngine } from '@dalm/core';
import { buildIndexDir, loadEncoder } from '@dalm/retriever';
import { corpus } from './serve-corpus';
import { loadServeModels, startServer, type RunningServer, type ServeModels } from '../src/index';

const shared = path.resolve(__dirname, '../../../../shared');
const bertTiny = path.join(shared, 'fixtures', 'hf-tiny', 'bert-tiny');
const llamaTiny = path.join(shared, 'fixtures', 'hf-tiny', 'llama-tiny');
const have = existsSync(bertTiny) && existsSync(llamaTiny);

/** Reads a text/event-stream response into [event, data] pairs. */
async function sseEvents(res: Response): Promise<[string, unknown][]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((b) => {
      const ev = /^event: (.*)$/m.exec(b)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(b)![1];
      return [ev, data === '[DONE]' ? data : JSON.parse(data)];
    });
}

describe.skipIf(!have)('dalm server', () => {
  let models: ServeModels;
  let server: RunningServer;
  let indexDir: string;
  const post = (url: string, route: string, body: unknown) =>
    fetch(url + route, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    indexDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'dalm-serve-')), 'index');
    const enc = await loadEncoder(bertTiny);
    await buildIndexDir(indexDir, corpus, enc, { denseKind: 'exact' }, bertTiny);
    enc.dispose();
    models = await loadServeModels({ index: indexDir, generator: llamaTiny, retriever: bertTiny, runtime: 'tfjs' });
    server = await startServer(models, { port: 0, maxTokens: 64, maxQuestionChars: 200, maxBodyBytes: 4096 });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    models?.dispose();
  });

  it('answers the openai client: the non-streamed answer equals the streamed concatenation; citations are index ids', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused' });
    const messages = [{ role: 'user' as const, content: 'How long is the incubation period?' }];
    const full = await client.chat.completions.create({ model: 'llama-tiny', messages, max_tokens: 8, temperature: 0 });
    const content = full.choices[0].message.content ?? '';
    expect(content.length).toBeGreaterThan(0);
    expect(full.model).toBe('llama-tiny');
    const citations = (full as unknown as { citations: { id: string; score: number }[] }).citations;
    expect(citations.length).toBe(3);
    for (const c of citations) expect(corpus.map((p) => p.id)).toContain(c.id);

    const stream = await client.chat.completions.create({
      model: 'llama-tiny',
      messages,
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    let streamed = '';
    let chunks = 0;
    let finish: string | null = null;
    let streamCitations: { id: string }[] = [];
    for await (const chunk of stream) {
      chunks++;
      streamed += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      const extra = (chunk as unknown as { citations?: { id: string }[] }).citations;
      if (extra) streamCitations = extra;
    }
    expect(streamed).toBe(content);
    expect(chunks).toBeGreaterThan(2);
    expect(finish).toBe(full.choices[0].finish_reason);
    expect(streamCitations.map((c) => c.id)).toEqual(citations.map((c) => c.id));
  }, 60_000);

  it('embeds like the library encoder (within 1e-6), through the openai client', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused' });
    const texts = ['incubation period of the virus', 'bats host coronaviruses'];
    const res = await client.embeddings.create({ model: 'bert-tiny', input: texts, encoding_format: 'float' });
    const enc = await loadEncoder(bertTiny);
    const ref = await enc.embedQueries(texts);
    enc.dispose();
    expect(res.data.length).toBe(2);
    res.data.forEach((d, i) => {
      expect(d.embedding.length).toBe(ref[i].length);
      const maxDiff = Math.max(...d.embedding.map((v, j) => Math.abs(v - ref[i][j])));
      expect(maxDiff).toBeLessThan(1e-6);
    });
  }, 60_000);

  it('searches, asks (JSON and SSE: tokens, then citations, then done), serves passages, health and models', async () => {
    const s = await (await post(server.url, '/v1/search', { query: 'incubation period', k: 2, mode: 'bm25' })).json();
    expect(s.hits[0]).toMatchObject({ id: 'c', source: 'incubation.md', start: 0, end: 55 });
    expect(s.hits.length).toBeLessThanOrEqual(2); // BM25 returns only passages sharing a term
    const asked = await (
      await post(server.url, '/v1/ask', { question: 'Which animals host coronaviruses?', max_tokens: 6 })
    ).json();
    const res = await post(server.url, '/v1/ask', {
      question: 'Which animals host coronaviruses?',
      max_tokens: 6,
      stream: true,
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await sseEvents(res);
    const names = events.map((e) => e[0]);
    expect(names.at(-1)).toBe('done');
    expect(names.at(-2)).toBe('citations');
    expect(names.slice(0, -2).every((n) => n === 'token')).toBe(true);
    const text = events
      .filter((e) => e[0] === 'token')
      .map((e) => (e[1] as { text: string }).text)
      .join('');
    expect(text).toBe(asked.answer);
    expect((events.at(-1)![1] as { answer: string }).answer).toBe(asked.answer);
    expect((events.at(-2)![1] as { id: string }[]).map((c) => c.id)).toEqual(
      asked.citations.map((c: { id: string }) => c.id),
    );
    const passage = await (await fetch(server.url + asked.citations[0].url)).json();
    expect(passage.text).toBe(corpus.find((p) => p.id === asked.citations[0].id)!.text);
    expect((await fetch(server.url + '/v1/passages/nope')).status).toBe(404);
    expect(await (await fetch(server.url + '/health')).json()).toMatchObject({
      status: 'ok',
      passages: 3,
      dense: true,
    });
    expect((await (await fetch(server.url + '/v1/models')).json()).data[0].id).toBe('llama-tiny');
  }, 60_000);

  it('refuses bad requests with 4xx JSON naming the field, and keeps serving', async () => {
    const cases: [string, unknown, number, string | null][] = [
      ['/v1/ask', {}, 400, 'question'],
      ['/v1/ask', { question: 'q', k: 0 }, 400, 'k'],
      ['/v1/ask', { question: 'q', k: '3' }, 400, 'k'],
      ['/v1/ask', { question: 'q', max_tokens: 65 }, 400, 'max_tokens'],
      ['/v1/ask', { question: 'x'.repeat(201) }, 400, 'question'],
      ['/v1/ask', { question: '   ' }, 400, 'question'],
      ['/v1/search', { query: 'q', mode: 'fuzzy' }, 400, 'mode'],
      ['/v1/chat/completions', { model: 'm', messages: [] }, 400, 'messages'],
      ['/v1/chat/completions', { model: 'm', messages: [{ role: 'system', content: 'hi' }] }, 400, 'messages'],
      ['/v1/embeddings', { input: 42 }, 400, 'input'],
      ['/v1/ask', '{"question": "unterminated', 400, null],
      ['/v1/ask', JSON.stringify({ question: 'q', pad: 'x'.repeat(5000) }), 413, null],
    ];
    for (const [route, body, status, param] of cases) {
      const res = await post(server.url, route, body);
      const json = await res.json();
      expect({ route, body: String(JSON.stringify(body)).slice(0, 60), status: res.status }).toEqual({
        route,
        body: String(JSON.stringify(body)).slice(0, 60),
        status,
      });
      expect(typeof json.error.message).toBe('string');
      if (param) {
        expect(json.error.param).toBe(param);
        expect(json.error.message).toContain(param);
      }
    }
    expect((await fetch(server.url + '/nowhere')).status).toBe(404);
    const ok = await post(server.url, '/v1/search', { query: 'masks' });
    expect(ok.status).toBe(200);
  }, 60_000);

  it('a client leaving mid-stream frees its slot; 429 when the queue is full; close() lets the stream in flight finish', async () => {
    const busy = await startServer(models, { port: 0, maxConcurrent: 1, maxQueue: 0, maxTokens: 256 });
    try {
      // leave mid-stream
      const ac = new AbortController();
      const res = await fetch(busy.url + '/v1/ask', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ question: 'What do masks do?', max_tokens: 60, stream: true }),
        signal: ac.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      await new Promise((r) => setTimeout(r, 300));
      const after = await post(busy.url, '/v1/ask', { question: 'What do masks do?', max_tokens: 4 });
      expect(after.status).toBe(200);
      expect((await after.json()).citations.length).toBe(3);
      expect((await (await fetch(busy.url + '/health')).json()).generations).toEqual({ running: 0, queued: 0 });

      // one generation running, no queue: the next gets 429, and the first still completes
      const firstRes = await post(busy.url, '/v1/ask', {
        question: 'What do masks do?',
        max_tokens: 200,
        stream: true,
      });
      const firstReader = firstRes.body!.getReader();
      let firstText = new TextDecoder().decode((await firstReader.read()).value);
      const second = await post(busy.url, '/v1/ask', { question: 'What do masks do?', max_tokens: 4 });
      expect(second.status).toBe(429);
      expect((await second.json()).error.type).toBe('rate_limit_error');
      for (let r = await firstReader.read(); !r.done; r = await firstReader.read())
        firstText += new TextDecoder().decode(r.value);
      expect(firstText).toMatch(/event: done\ndata: \{"answer":.*"finishReason":"length"\}/);

      // close() while a stream is in flight: it finishes with done
      const inflight = await post(busy.url, '/v1/ask', {
        question: 'Which animals host coronaviruses?',
        max_tokens: 30,
        stream: true,
      });
      const closing = busy.close();
      const events = await sseEvents(inflight);
      await closing;
      expect(events.at(-1)![0]).toBe('done');
      await expect(fetch(busy.url + '/health')).rejects.toThrow();
    } finally {
      await busy.close().catch(() => undefined);
    }
  }, 90_000);
});
