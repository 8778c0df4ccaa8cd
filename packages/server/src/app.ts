/**
 * The HTTP API over one loaded RAG pipeline, on Fastify: search, ask (JSON or Server-Sent Events),
 * OpenAI-compatible chat completions and embeddings, passages, training-run reports and the web page.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { loadRunReportData, renderRunReport } from '@dalm/core';
import type { RetrievalMode } from '@dalm/retriever';
import type { Citation, GenerateOptions, RagAnswer } from '@dalm/generator';
import { validateServerConfig, type ServerConfig } from './config';
import { GenerationGate, QueueFullError } from './gate';
import type { ServeModels } from './load';
import { askSchema, chatSchema, embeddingsSchema, searchSchema } from './schemas';
import { TrimmedStream } from './trimmed-stream';

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

type Body = Record<string, unknown>;

/** Error body: OpenAI's shape, so its clients show the message; `param` names the field. */
function errorBody(message: string, type: string, param: string | null = null) {
  return { error: { message, type, param, code: null } };
}

function generateOptions(b: Body, c: ServerConfig): GenerateOptions {
  const stop = typeof b.stop === 'string' ? [b.stop] : (b.stop as string[] | undefined);
  return {
    maxNewTokens: (b.max_tokens ?? b.maxNewTokens ?? c.defaultMaxTokens) as number,
    ...(b.temperature !== undefined ? { temperature: b.temperature as number } : {}),
    ...((b.top_p ?? b.topP) !== undefined ? { topP: (b.top_p ?? b.topP) as number } : {}),
    ...(b.topK !== undefined ? { topK: b.topK as number } : {}),
    ...(b.seed !== undefined ? { seed: b.seed as number } : {}),
    ...(stop?.length ? { stopStrings: stop } : {}),
  };
}

function citationJson(c: Citation) {
  return {
    id: c.id,
    source: c.source,
    title: c.title,
    score: c.score,
    rank: c.rank,
    keptTokens: c.keptTokens,
    totalTokens: c.totalTokens,
    text: c.text,
    url: `/v1/passages/${encodeURIComponent(c.id)}`,
  };
}

/** The text of the last user message (content as a string or as OpenAI content parts). */
function lastUserText(messages: { role: string; content: unknown }[]): string | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content))
      return m.content
        .map((p) => (p && typeof p === 'object' && (p as Body).type === 'text' ? String((p as Body).text ?? '') : ''))
        .join('');
  }
  return null;
}

const finishReason = (r: string) => (r === 'length' ? 'length' : 'stop');

/** Writes Server-Sent Events on the raw response; `closed` turns true when the client goes away. */
class SseWriter {
  closed = false;
  constructor(private readonly reply: FastifyReply) {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    reply.raw.on('close', () => (this.closed = true));
  }
  send(data: unknown, event?: string): void {
    if (this.closed) return;
    this.reply.raw.write(
      `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
    );
  }
  end(): void {
    if (!this.closed) this.reply.raw.end();
  }
}

/** A running server: its URL and a close() that lets in-flight requests finish. */
export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Builds the Fastify app (not listening yet). */
export function createServer(models: ServeModels, config: Partial<ServerConfig> = {}): FastifyInstance {
  const c = validateServerConfig(config);
  const gate = new GenerationGate(c.maxConcurrent, c.maxQueue);
  const app = Fastify({
    bodyLimit: c.maxBodyBytes,
    logger: false,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const started = Math.floor(Date.now() / 1000);

  app.setErrorHandler(
    (err: Error & { statusCode?: number; validation?: { instancePath: string; params?: Body }[] }, _req, reply) => {
      if (err instanceof QueueFullError)
        return reply.code(429).header('retry-after', '1').send(errorBody(err.message, 'rate_limit_error'));
      if (err.validation) {
        const v = err.validation[0];
        const missing = v?.params && typeof v.params.missingProperty === 'string' ? v.params.missingProperty : null;
        const field = (missing ?? v?.instancePath.replace(/^\//, '').replace(/\//g, '.')) || null;
        return reply
          .code(400)
          .send(
            errorBody(
              missing
                ? `body.${missing} is required`
                : `body${field ? `.${field}` : ''} ${err.message.replace(/^body(\/\S*)? /, '')}`,
              'invalid_request_error',
              field,
            ),
          );
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      return reply
        .code(status)
        .send(
          errorBody(
            status === 500 ? `internal error: ${err.message}` : err.message,
            status === 500 ? 'server_error' : 'invalid_request_error',
          ),
        );
    },
  );
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody(`no route ${req.method} ${req.url}`, 'invalid_request_error')),
  );

  const modeOf = (b: Body, reply: FastifyReply): RetrievalMode | null => {
    const mode = (b.mode as RetrievalMode | undefined) ?? models.defaultMode;
    if (mode !== 'bm25' && !models.index.dense) {
      reply
        .code(400)
        .send(
          errorBody(
            `body.mode "${mode}" needs a dense index and its retriever; this server has BM25 only`,
            'invalid_request_error',
            'mode',
          ),
        );
      return null;
    }
    return mode;
  };

  app.get('/health', async () => ({
    status: 'ok',
    model: models.modelId,
    passages: models.index.bm25.allPassages().length,
    dense: Boolean(models.index.dense),
    generations: gate.load,
  }));

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: models.modelId, object: 'model', created: started, owned_by: 'dalm' }],
  }));

  app.get('/v1/passages/:id', async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const p = models.index.bm25.allPassages().find((x) => x.id === req.params.id);
    if (!p)
      return reply.code(404).send(errorBody(`no passage with id "${req.params.id}"`, 'invalid_request_error', 'id'));
    return { id: p.id, source: p.source, title: p.title, start: p.start, end: p.end, text: p.text };
  });

  app.post('/v1/search', { schema: { body: searchSchema(c) } }, async (req, reply) => {
    const b = req.body as Body;
    const mode = modeOf(b, reply);
    if (!mode) return reply;
    const hits = await models.index
      .retrieval(mode, models.hybrid)
      .search(b.query as string, { k: (b.k as number | undefined) ?? c.k });
    return {
      query: b.query,
      mode,
      hits: hits.map((h) => ({
        id: h.id,
        score: h.score,
        source: h.passage.source,
        title: h.passage.title,
        start: h.passage.start,
        end: h.passage.end,
        text: h.passage.text,
      })),
    };
  });

  /** Runs one RAG answer under the gate; `onPiece` gets the trimmed stream. Returns null when the client left. */
  async function answer(
    question: string,
    b: Body,
    mode: RetrievalMode,
    onPiece: ((s: string) => void) | null,
    gone: () => boolean,
  ): Promise<RagAnswer | null> {
    const release = await gate.acquire();
    try {
      const it = models.pipeline(mode).stream(question, {
        k: (b.k as number | undefined) ?? c.k,
        closedBook: Boolean(b.closedBook),
        generate: generateOptions(b, c),
      });
      const trim = new TrimmedStream();
      let r = await it.next();
      while (!r.done) {
        if (gone()) {
          await it.return(undefined as never);
          return null;
        }
        const out = trim.push(r.value);
        if (out && onPiece) onPiece(out);
        // Generation awaits only microtasks: give the event loop a turn per token, so the piece is
        // flushed, a disconnect is seen, and other requests (health, search, 429s) are answered meanwhile.
        await new Promise<void>((resolve) => setImmediate(resolve));
        r = await it.next();
      }
      return r.value;
    } finally {
      release();
    }
  }

  app.post('/v1/ask', { schema: { body: askSchema(c) } }, async (req, reply) => {
    const b = req.body as Body;
    const mode = modeOf(b, reply);
    if (!mode) return reply;
    if (!b.stream) {
      const a = (await answer(b.question as string, b, mode, null, () => false))!;
      return {
        question: a.question,
        answer: a.answer,
        finishReason: a.finishReason,
        mode: b.closedBook ? 'closed-book' : mode,
        citations: a.citations.map(citationJson),
      };
    }
    const release = await gate.acquire(); // 429 before the stream starts; the slot passes to `answer`
    const sse = new SseWriter(reply);
    release();
    try {
      const a = await answer(
        b.question as string,
        b,
        mode,
        (text) => sse.send({ text }, 'token'),
        () => sse.closed,
      );
      if (a) {
        sse.send(a.citations.map(citationJson), 'citations');
        sse.send({ answer: a.answer, finishReason: a.finishReason }, 'done');
      }
    } catch (e) {
      sse.send({ message: (e as Error).message }, 'error');
    }
    sse.end();
  });

  app.post('/v1/chat/completions', { schema: { body: chatSchema(c) } }, async (req, reply) => {
    const b = req.body as Body;
    const question = lastUserText(b.messages as { role: string; content: unknown }[]);
    if (question === null || question.trim() === '')
      return reply
        .code(400)
        .send(
          errorBody('body.messages needs a user message with text (the question)', 'invalid_request_error', 'messages'),
        );
    if (question.length > c.maxQuestionChars)
      return reply
        .code(400)
        .send(
          errorBody(
            `body.messages: the question is ${question.length} characters, more than the limit ${c.maxQuestionChars}`,
            'invalid_request_error',
            'messages',
          ),
        );
    const mode = modeOf(b, reply);
    if (!mode) return reply;
    const id = `chatcmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const created = Math.floor(Date.now() / 1000);
    const base = { id, created, model: models.modelId };
    if (!b.stream) {
      const a = (await answer(question, b, mode, null, () => false))!;
      return {
        ...base,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: a.answer },
            finish_reason: finishReason(a.finishReason),
            logprobs: null,
          },
        ],
        citations: a.citations.map(citationJson),
      };
    }
    const release = await gate.acquire();
    const sse = new SseWriter(reply);
    release();
    const chunk = (delta: Body, finish: string | null, extra: Body = {}) => ({
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...extra,
    });
    try {
      sse.send(chunk({ role: 'assistant', content: '' }, null));
      const a = await answer(
        question,
        b,
        mode,
        (text) => sse.send(chunk({ content: text }, null)),
        () => sse.closed,
      );
      if (a) {
        sse.send(chunk({}, finishReason(a.finishReason), { citations: a.citations.map(citationJson) }));
        sse.send('[DONE]');
      }
    } catch (e) {
      sse.send({ error: { message: (e as Error).message, type: 'server_error' } });
    }
    sse.end();
  });

  app.post('/v1/embeddings', { schema: { body: embeddingsSchema(c) } }, async (req, reply) => {
    const b = req.body as Body;
    if (!models.encoder)
      return reply
        .code(400)
        .send(
          errorBody(
            'this server has no retriever (BM25-only index): embeddings need --retriever',
            'invalid_request_error',
            'model',
          ),
        );
    const inputs = typeof b.input === 'string' ? [b.input] : (b.input as string[]);
    const vectors = await models.encoder.embedQueries(inputs);
    const encode = (v: Float32Array) =>
      b.encoding_format === 'base64'
        ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
        : Array.from(v);
    return {
      object: 'list',
      model: models.modelId,
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: encode(v) })),
      usage: { prompt_tokens: 0, total_tokens: 0 },
    };
  });

  // --- training runs (the web page's second view) ---
  const runDirs = async (): Promise<string[]> => {
    if (!c.runs) return [];
    const names = (await readdir(c.runs, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    const found: string[] = [];
    for (const n of names) {
      try {
        if ((await loadRunReportData(path.join(c.runs, n))).runs.length > 0) found.push(n);
      } catch {
        // not a training run directory
      }
    }
    return found;
  };
  app.get('/v1/runs', async () => ({
    dir: c.runs,
    runs: (await runDirs()).map((name) => ({ name, report: `/runs/${encodeURIComponent(name)}/report` })),
  }));
  app.get('/runs/:name/report', async (req: FastifyRequest<{ Params: { name: string } }>, reply) => {
    const names = await runDirs();
    if (!names.includes(req.params.name))
      return reply
        .code(404)
        .send(
          errorBody(
            `no training run "${req.params.name}" under ${c.runs ?? '(no --runs given)'}`,
            'invalid_request_error',
            'name',
          ),
        );
    const html = renderRunReport(await loadRunReportData(path.join(c.runs!, req.params.name)));
    return reply.type('text/html; charset=utf-8').send(html);
  });

  // --- the web page ---
  const staticFile = (file: string, type: string) => async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type(type).send(await readFile(path.join(PUBLIC_DIR, file)));
  app.get('/', staticFile('index.html', 'text/html; charset=utf-8'));
  app.get('/app.js', staticFile('app.js', 'text/javascript; charset=utf-8'));
  app.get('/style.css', staticFile('style.css', 'text/css; charset=utf-8'));
  return app;
}

/** Creates the app and listens on `config.host`:`config.port`; close() waits for in-flight requests. */
export async function startServer(models: ServeModels, config: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const c = validateServerConfig(config);
  const app = createServer(models, c);
  await app.listen({ host: c.host, port: c.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : c.port;
  const host = c.host.includes(':') ? `[${c.host}]` : c.host;
  return { app, url: `http://${host}:${port}`, close: () => app.close() };
}
