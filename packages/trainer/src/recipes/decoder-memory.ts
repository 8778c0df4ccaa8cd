/** Memory estimate of decoder (generator / LM) training, for the loop's gradient-checkpointing and early out-of-memory checks. */
import { estimateBackpropBytes, type TransformerShape } from '@dalm/core';
import type { CausalLM } from '@dalm/generator';
import type { TrainMemory } from '../loop/trainer';

/** The decoder's shape from its HF config (Llama/Qwen2 or GPT-2 field names). */
export function decoderShape(model: CausalLM): TransformerShape {
  const c = model.configJson() as Record<string, number | null | undefined>;
  const hidden = Number(c.hidden_size ?? c.n_embd);
  return {
    layers: model.numLayers,
    hidden,
    heads: Number(c.num_attention_heads ?? c.n_head),
    intermediate: Number(c.intermediate_size ?? c.n_inner ?? 4 * hidden),
    params: model.params.count(),
    vocab: model.vocabSize,
  };
}

/** What one micro-batch of `batchSize` rows of up to `maxSeqLength` tokens needs. */
export function decoderTrainMemory(model: CausalLM, batchSize: number, maxSeqLength: number): TrainMemory {
  const shape = decoderShape(model);
  return {
    estimateBytes: (checkpointing) =>
      estimateBackpropBytes(shape, batchSize, maxSeqLength, {
        checkpointing,
        trainableParams: model.params.count(true),
      }),
    advice: ['--batch-size', '--max-seq-length', '--gradient-checkpointing on'],
  };
}
