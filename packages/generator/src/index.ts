// @dalm/generator public API

// --- decoder ---
export {
  DEFAULT_LLAMA_CONFIG,
  SMALL_LLAMA_CONFIG,
  DECODER_MODEL_TYPES,
  validateLlamaConfig,
  validateRopeScaling,
  llamaConfigToJson,
  ROPE_SCALING_TYPES,
} from './llama-config';
export type { LlamaConfig, DecoderModelType, RopeScaling } from './llama-config';
export { ropeInvFreq, ropeTables } from './rope';
export {
  DEFAULT_GPT2_CONFIG,
  validateGpt2Config,
  gpt2ConfigToJson,
  Gpt2LMHeadModel,
  gpt2StateDict,
  gpt2ParamName,
} from './gpt2';
export type { Gpt2Config } from './gpt2';
export { LlamaForCausalLM, llamaStateDict, llamaParamName } from './llama';
export { CAUSAL_LM_TYPES, eosList } from './causal-lm';
export type { CausalLM, CausalLMType, CausalLMForwardOptions, CausalLMOutput, SpecialTokens } from './causal-lm';
export { KVCache } from './kv-cache';
export { loadCausalLM, createCausalLM, saveCausalLM, generationConfigJson, GENERATION_CONFIG_FILE } from './load';
export type { SaveCausalLMOptions } from './load';
export { streamWeights, weightFiles, WEIGHTS_INDEX_FILE } from './weights';
export type { WeightFiles } from './weights';

// --- GGUF (llama.cpp / Ollama files) ---
export { loadGgufCausalLM, ggufLlamaConfig, ggufLlamaParamName, unpermuteRotaryRows, isGgufPath } from './gguf-model';

// --- generation ---
export {
  argmax,
  softmax,
  applyRepetitionPenalty,
  applyTemperature,
  topKFilter,
  topPFilter,
  sampleIndex,
  nextToken,
} from './sampling';
export type { SamplingOptions } from './sampling';
export { generate, stream, leftPad } from './generate';
export type { GenerateOptions, GenerateResult, PromptInput, TokenEvent, TokenDecoder, FinishReason } from './generate';

// --- retrieval-augmented prompting and answering ---
export { ChatTemplate, chatTemplateFromTokenizerConfig, templateSpecialTokens } from './chat-template';
export type { ChatMessage, ChatTemplateSpec } from './chat-template';
export {
  DEFAULT_PROMPT_FORMAT,
  CHAT_PROMPT_FORMAT,
  COMPACT_PROMPT_FORMAT,
  PROMPT_FORMAT_FILE,
  validatePromptFormat,
  buildPrompt,
  answerIds,
  savePromptFormat,
  loadPromptFormat,
} from './prompt-format';
export type { PromptFormat, PromptPassage, BuiltPrompt } from './prompt-format';
export { RagPipeline } from './rag';
export type { RetrievedPassage, PassageSearch, Citation, RagOptions, RagAnswer } from './rag';

// --- LoRA (PEFT layout) ---
export {
  DEFAULT_LORA_CONFIG,
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  validateLoraConfig,
  applyLora,
  saveLoraAdapter,
  readLoraConfig,
  loadLoraAdapter,
  mergeLora,
} from './lora';
export type { LoraConfig } from './lora';

// --- answer metrics ---
export {
  normalizeAnswer,
  exactMatch,
  tokenF1,
  tokenF1Single,
  scoreAnswers,
  ANSWER_METRIC_NAMES,
  PRIMARY_ANSWER_METRIC,
} from './answer-metrics';
export { AnswerEvaluator } from './answer-evaluator';
export type { AnswerItem, AnswerMetricName, AnswerEvaluation, AnswerEvaluatorOptions } from './answer-evaluator';

// --- generator directories ---
export { loadGenerator, saveGenerator, saveGeneratorAdapter } from './generator-dir';
export type { LoadedGenerator } from './generator-dir';

// --- ONNX export and ONNX Runtime generation ---
export type { TokenStepper, IncrementalLM, GenerationModel } from './token-stepper';
export { tokenStepper } from './token-stepper';
export { LLAMA_ONNX_EXPORTER, llamaOnnxModel, mergedDecoderWeights } from './llama-onnx';
export { GPT2_ONNX_EXPORTER, gpt2OnnxModel } from './gpt2-onnx';
export type { InferenceGenerator } from './onnx-causal-lm';
export {
  OnnxCausalLM,
  onnxExportUnsupported,
  causalLMOnnxBytes,
  onnxCausalLMFor,
  ensureCausalLMOnnx,
  loadOnnxGenerator,
  loadInferenceGenerator,
  exportCausalLMOnnx,
} from './onnx-causal-lm';

// --- old names (deprecated, one release) ---
export { DEFAULT_DECODER_CONFIG, SMALL_DECODER_CONFIG, validateDecoderConfig, decoderConfigToJson } from './deprecated';
export type { DecoderConfig } from './deprecated';
