/**
 * Sizes of from-scratch models (no pretrained weights can be downloaded here). `tiny` trains in
 * minutes on 2 CPU cores (quickstart); `small` is the default for real domains; `base` wants a GPU.
 */
import { trainByteLevelBPE, trainWordPiece } from '@dalm/core';
import { createEncoder, type BertConfig, type Encoder } from '@dalm/retriever';
import { createCausalLM, DEFAULT_PROMPT_FORMAT, type DecoderConfig, type LoadedGenerator } from '@dalm/generator';

export const MODEL_SIZES = ['tiny', 'small', 'base'] as const;
export type ModelSize = (typeof MODEL_SIZES)[number];

export const ENCODER_PRESETS: Record<ModelSize, Partial<BertConfig> & { vocab: number; maxLength: number }> = {
  tiny: { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, max_position_embeddings: 256, vocab: 4000, maxLength: 256 },
  small: { hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 1024, max_position_embeddings: 512, vocab: 8000, maxLength: 256 },
  base: { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512, vocab: 30522, maxLength: 512 },
};

export const DECODER_PRESETS: Record<ModelSize, Partial<DecoderConfig> & { vocab: number }> = {
  tiny: { hidden_size: 128, intermediate_size: 344, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 512, vocab: 4000 },
  small: { hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024, vocab: 8000 },
  base: { hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, max_position_embeddings: 2048, vocab: 32000 },
};

/** A from-scratch encoder with a WordPiece tokenizer trained on `texts`. */
export function scratchEncoder(texts: Iterable<string>, size: ModelSize, seed: number, overrides: Partial<BertConfig> = {}): Encoder {
  const { vocab, maxLength, ...config } = ENCODER_PRESETS[size];
  const tokenizer = trainWordPiece(texts, { vocabSize: vocab });
  return createEncoder({ tokenizer, config: { ...config, ...overrides }, settings: { maxLength: Math.min(maxLength, overrides.max_position_embeddings ?? maxLength), pooling: 'mean', normalize: true }, seed });
}

/** A from-scratch Llama-style decoder (tied embeddings) with a byte-level BPE tokenizer trained on `texts`. */
export function scratchGenerator(texts: Iterable<string>, size: ModelSize, seed: number, overrides: Partial<DecoderConfig> = {}): LoadedGenerator {
  const { vocab, ...config } = DECODER_PRESETS[size];
  const tokenizer = trainByteLevelBPE(texts, { vocabSize: vocab });
  const model = createCausalLM(
    {
      model_type: 'llama',
      ...config,
      ...overrides,
      vocab_size: tokenizer.vocabSize,
      tie_word_embeddings: true,
      bos_token_id: tokenizer.special.bos,
      eos_token_id: tokenizer.special.eos,
      pad_token_id: tokenizer.special.pad,
    },
    seed,
  );
  return { model, tokenizer, format: { ...DEFAULT_PROMPT_FORMAT }, lora: null };
}

export function checkModelSize(size: string): ModelSize {
  if (!(MODEL_SIZES as readonly string[]).includes(size)) throw new Error(`size must be one of ${MODEL_SIZES.join(', ')}, got "${size}"`);
  return size as ModelSize;
}
