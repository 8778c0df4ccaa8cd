/**
 * `pnpm bench memory`: bytes backprop holds per 1,000 tokens through a BERT encoder, and the time of
 * one forward + backward, with and without gradient checkpointing, against the engine's estimate.
 *
 *   pnpm bench memory [--layers=12] [--hidden=384] [--heads=12] [--mlp=1536] [--batch=2] [--seq=256]
 *                     [--checkpointing=both|on|off] [--backend=wasm]
 *
 * Defaults are bge-small's shape (random weights). Held = tf.profile's peak bytes during
 * `tf.variableGrads` minus what was allocated before (weights) minus one gradient per parameter.
 */
import * as tf from '@tensorflow/tfjs';
import { estimateBackpropBytes, initEngine, setGradientCheckpointing, type BackendChoice } from '@dalm/core';
import { BertModel, validateBertConfig } from '@dalm/retriever';
import { choiceOption, intOption, parseBenchArgs } from './harness';

const BENCH = 'memory';

/** Entry point for `tsx bench/run.ts memory [...args]`. */
export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(
    BENCH,
    argv,
    ['layers', 'hidden', 'heads', 'mlp', 'batch', 'seq', 'checkpointing', 'backend'],
    [],
  );
  const [layers, hidden, heads, mlp, batch, seq] = [
    intOption(BENCH, args, 'layers', 12),
    intOption(BENCH, args, 'hidden', 384),
    intOption(BENCH, args, 'heads', 12),
    intOption(BENCH, args, 'mlp', 1536),
    intOption(BENCH, args, 'batch', 2),
    intOption(BENCH, args, 'seq', 256),
  ];
  const modes = choiceOption(BENCH, args, 'checkpointing', ['both', 'on', 'off'] as const, 'both');
  await initEngine({ backend: (args.backend ?? 'wasm') as BackendChoice });
  console.log(`$ pnpm bench ${BENCH} ${argv.join(' ')}`.trimEnd());
  const cfg = validateBertConfig({
    vocab_size: 8000,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: mlp,
    max_position_embeddings: Math.max(512, seq),
  });
  const bert = new BertModel(cfg, { pooler: false });
  const ids = tf.randomUniform([batch, seq], 1, 7999, 'int32');
  const mask = tf.ones([batch, seq], 'int32');
  const shape = { layers, hidden, heads, intermediate: mlp, params: bert.params.count() };
  const tokens = batch * seq;
  console.log(
    `BERT ${layers} x ${hidden}, ${heads} heads, mlp ${mlp}, ${(shape.params / 1e6).toFixed(1)}M params; ${batch} x ${seq} tokens; backend ${tf.getBackend()}`,
  );
  console.log('| checkpointing | held MiB | MiB per 1k tokens | estimate MiB per 1k tokens | fwd+bwd s |');
  console.log('|---|---|---|---|---|');
  for (const on of modes === 'both' ? [false, true] : [modes === 'on']) {
    setGradientCheckpointing(on);
    const before = tf.memory().numBytes;
    const t0 = performance.now();
    const prof = await tf.profile(() => {
      const r = tf.variableGrads(
        () => tf.mean(bert.forward(ids, mask, null, { training: true, pooler: false }).lastHiddenState) as tf.Scalar,
        bert.params.trainableVariables(),
      );
      r.value.dispose();
      tf.dispose(r.grads);
    });
    const s = (performance.now() - t0) / 1000;
    const held = prof.peakBytes - before - 4 * shape.params;
    const estimate =
      estimateBackpropBytes(shape, batch, seq, { checkpointing: on }) -
      estimateBackpropBytes(shape, 0, seq, { checkpointing: on });
    const perK = (b: number) => (b / 2 ** 20 / (tokens / 1000)).toFixed(0);
    console.log(
      `| ${on ? 'on' : 'off'} | ${(held / 2 ** 20).toFixed(0)} | ${perK(held)} | ${perK(estimate)} | ${s.toFixed(1)} |`,
    );
  }
  setGradientCheckpointing(false);
  bert.dispose();
  tf.dispose([ids, mask]);
}
