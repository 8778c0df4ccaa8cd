/** `dalm serve`: load the index, retriever and generator once and answer over HTTP (API + web page). */
import { Command, Option } from 'commander';
import { RETRIEVAL_MODES, type RetrievalMode } from '@dalm/retriever';
import { loadServeModels, startServer, type ServerConfig } from '@dalm/server';
import { addOptions, readOptions } from '../options';
import {
  HYBRID_OPTIONS,
  hybridConfig,
  type HybridCliConfig,
  modelHelp,
  RUNTIME_OPTIONS,
  SERVE_OPTIONS,
} from '../specs';
import { printJson, runtimeOption, startEngine } from '../context';

export function serveCommand(): Command {
  const cmd = new Command('serve')
    .description(
      'serve search, ask, OpenAI-compatible chat completions and embeddings, and a web page, over one loaded index and generator',
    )
    .requiredOption('--index <dir>', 'index directory')
    .requiredOption('--generator <model>', modelHelp('generator'))
    .option('--retriever <model>', modelHelp('encoder', 'default: the one recorded in the index'))
    .addOption(
      new Option(
        '--mode <mode>',
        'retrieval mode when a request does not say (default: hybrid with a dense index, else bm25)',
      ).choices([...RETRIEVAL_MODES]),
    )
    .option('--json', 'print the address as one JSON line once listening');
  addOptions(cmd, SERVE_OPTIONS);
  addOptions(cmd, HYBRID_OPTIONS);
  addOptions(cmd, RUNTIME_OPTIONS, { runtime: 'auto' });
  cmd.addHelpText(
    'after',
    '\nExamples:\n  dalm serve --index runs/index --generator runs/generator\n  dalm serve --index runs/index --generator runs/generator --port 0 --runs runs --max-concurrent 2 --json\n\nEndpoints: POST /v1/search, /v1/ask (stream: true for SSE), /v1/chat/completions, /v1/embeddings;\nGET /health, /v1/models, /v1/passages/:id, /v1/runs; the web page at /. SIGTERM or Ctrl-C lets\nin-flight requests finish, then exits.',
  );
  return cmd.action(async (opts: Record<string, unknown>, self: Command) => {
    await startEngine(self);
    const models = await loadServeModels({
      index: String(opts.index),
      generator: String(opts.generator),
      retriever: opts.retriever as string | undefined,
      runtime: runtimeOption(opts),
      mode: opts.mode as RetrievalMode | undefined,
      hybrid: hybridConfig(readOptions<HybridCliConfig>(opts, HYBRID_OPTIONS)),
    });
    const server = await startServer(models, readOptions<ServerConfig>(opts, SERVE_OPTIONS));
    if (opts.json) printJson({ url: server.url, model: models.modelId });
    else
      process.stdout.write(
        `dalm serve: listening on ${server.url} (model ${models.modelId}, ${models.index.bm25.allPassages().length} passages, default mode ${models.defaultMode})\n`,
      );
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.stderr.write('dalm serve: shutting down after in-flight requests\n');
        void server.close().then(resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    models.dispose();
  });
}
