/** `dalm export onnx`: a model directory -> a transformers.js / ONNX Runtime model directory. */
import { Command } from 'commander';
import { readConfigJson } from '@dalm/core';
import { exportEncoderOnnx, loadEncoder } from '@dalm/retriever';
import { printJson, startEngine } from '../context';

/** model_type values of config.json that `export onnx` handles, by kind. */
const ENCODER_TYPES = ['bert'];

function onnxCommand(): Command {
  return new Command('onnx')
    .description('export a model to ONNX (onnx/model.onnx + config + tokenizer + pooling files), loadable unchanged by transformers.js and ONNX Runtime')
    .argument('<model>', 'model directory (a trained or HF retriever)')
    .requiredOption('--out <dir>', 'directory to write (replaced atomically)')
    .option('--json', 'print a JSON summary')
    .addHelpText(
      'after',
      `
Examples:
  dalm export onnx runs/retriever --out runs/retriever-onnx
  dalm export onnx /work/shared/fixtures/hf-tiny/bert-tiny --out /tmp/bert-tiny-onnx --json

In transformers.js (Node or browser):
  env.localModelPath = 'runs'; env.allowRemoteModels = false;
  const embed = await pipeline('feature-extraction', 'retriever-onnx');
  const v = await embed('query text', { pooling: 'mean', normalize: true });`,
    )
    .action(async (model: string, opts: Record<string, unknown>, self: Command) => {
      await startEngine(self);
      const config = await readConfigJson(model);
      const type = String(config.model_type ?? 'bert');
      if (!ENCODER_TYPES.includes(type)) {
        throw new Error(`${model}/config.json: "model_type" is ${JSON.stringify(config.model_type)}; export onnx handles ${ENCODER_TYPES.join(', ')}`);
      }
      const t0 = Date.now();
      const encoder = await loadEncoder(model);
      const out = await exportEncoderOnnx(encoder, String(opts.out));
      const summary = { kind: 'encoder', modelType: type, out: out.dir, modelFile: out.modelFile, bytes: out.bytes, fingerprint: encoder.fingerprint, seconds: (Date.now() - t0) / 1000 };
      encoder.dispose();
      if (opts.json) printJson(summary);
      else process.stdout.write(`exported ${type} encoder to ${summary.modelFile} (${(summary.bytes / 2 ** 20).toFixed(1)} MiB) in ${summary.seconds.toFixed(1)} s\n`);
    });
}

export function exportCommand(): Command {
  return new Command('export').description('export a model for other runtimes').addCommand(onnxCommand());
}
