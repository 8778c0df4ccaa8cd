/**
 * Old names kept for one release so code written against 0.x keeps compiling; each says what
 * replaced it. `DecoderConfig` described Llama/Qwen2 only (GPT-2 has `Gpt2Config`), hence the rename.
 */
import {
  DEFAULT_LLAMA_CONFIG,
  SMALL_LLAMA_CONFIG,
  llamaConfigToJson,
  validateLlamaConfig,
  type LlamaConfig,
} from './llama-config';

/** @deprecated Renamed to {@link LlamaConfig} (it holds Llama/Qwen2 hyper-parameters only). */
export type DecoderConfig = LlamaConfig;
/** @deprecated Renamed to {@link DEFAULT_LLAMA_CONFIG}. */
export const DEFAULT_DECODER_CONFIG = DEFAULT_LLAMA_CONFIG;
/** @deprecated Renamed to {@link SMALL_LLAMA_CONFIG}. */
export const SMALL_DECODER_CONFIG = SMALL_LLAMA_CONFIG;
/** @deprecated Renamed to {@link validateLlamaConfig}. */
export const validateDecoderConfig = validateLlamaConfig;
/** @deprecated Renamed to {@link llamaConfigToJson}. */
export const decoderConfigToJson = llamaConfigToJson;
