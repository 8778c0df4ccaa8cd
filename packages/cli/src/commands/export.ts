/** `dalm export onnx`: a model directory -> a transformers.js / ONNX Runtime model directory. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { readConfigJson, resolveModel } from '@dalm/core';
import { exportEncoderOnnx, loadEncoder } from '@dalm/retriever';
import { exportCausalLMOnnx, loadGenerator } from '@dalm/generator';
import { printJson, startEngine } from '../context';

/** model_type values of config.json that `export onnx` handles, by kind. */
const ENCODER_TYPES = ['bert'];
const DECODER_TYPES = ['llama', 'qwen2', 'gpt2'];

function onnxCommand(): Command {
  return new Command('onnx')
    .description(
      'export a retriever (BERT) or generator (Llama, Qwen2, GPT-2; LoRA adapters merged) to ONNX: onnx/model.onnx + config + tokenizer (+ pooling files), loadable unchanged by transformers.js and ONNX Runtime',
    )
    .argument('<model>', 'model directory: a retriever, a generator, or a generator LoRA adapter directory')
    .requiredOption('--out <dir>', 'directory to write (replaced atomically)')
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      `
Examples:
  dalm export onnx runs/retriever --out runs/retriever-onnx
  dalm export onnx /work/shared/fixtures/hf-tiny/bert-tiny --out /tmp/bert-tiny-onnx --json
  dalm export onnx runs/generator --out runs/generator-onnx          # KV-cache decoder for text-generation

In transformers.js (Node or browser):
  env.localModelPath = 'runs'; env.allowRemoteModels = false;
  const embed = await pipeline('feature-extraction', 'retriever-onnx');
  const v = await embed('query text', { pooling: 'mean', normalize: true });`,
    )
    .action(async (name: string, opts: Record<string, unknown>, self: Command) => {
      await startEngine(self);
      const model = await resolveModel(name); // a directory, or a Hub id fetched into the HF cache
      const t0 = Date.now();
      const adapter = existsSync(path.join(model, 'adapter_config.json'));
      const type = adapter ? 'lora-adapter' : String((await readConfigJson(model)).model_type ?? 'bert');
      let summary: Record<string, unknown> & { modelFile: string; bytes: number; kind: string };
      if (ENCODER_TYPES.includes(type)) {
        const encoder = await loadEncoder(model);
        const out = await exportEncoderOnnx(encoder, String(opts.out));
        summary = {
          kind: 'encoder',
          modelType: type,
          out: out.dir,
          modelFile: out.modelFile,
          bytes: out.bytes,
          fingerprint: encoder.fingerprint,
        };
        encoder.dispose();
      } else if (DECODER_TYPES.includes(type) || adapter) {
        const gen = await loadGenerator(model);
        try {
          const out = await exportCausalLMOnnx(gen.model, gen.tokenizer, String(opts.out));
          summary = {
            kind: 'decoder',
            modelType: gen.model.modelType,
            loraMerged: gen.lora !== null,
            out: out.dir,
            modelFile: out.modelFile,
            bytes: out.bytes,
          };
        } finally {
          gen.model.dispose();
        }
      } else {
        throw new Error(
          `${model}/config.json: "model_type" is ${JSON.stringify(type)}; export onnx handles ${[...ENCODER_TYPES, ...DECODER_TYPES].join(', ')}`,
        );
      }
      summary.seconds = (Date.now() - t0) / 1000;
      if (opts.json) printJson(summary);
      else
        process.stdout.write(
          `exported ${String(summary.modelType)} ${summary.kind} to ${summary.modelFile} (${(summary.bytes / 2 ** 20).toFixed(1)} MiB) in ${Number(summary.seconds).toFixed(1)} s\n`,
        );
    });
}

export function exportCommand(): Command {
  return new Command('export').description('export a model for other runtimes').addCommand(onnxCommand());
}
