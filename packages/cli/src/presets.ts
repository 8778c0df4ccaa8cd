/**
 * Sizes of from-scratch models (no pretrained weights can be downloaded here). `tiny` trains in
 * minutes on 2 CPU cores (quickstart); `small` is the default for real domains; `base` wants a GPU.
 */
import type { BertConfig } from '@dalm/retriever';
import type { DecoderConfig } from '@dalm/generator';

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
