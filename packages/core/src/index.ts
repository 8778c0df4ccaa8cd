// @dalm/core public API

// --- layers ---
export * from './layers/index';

// --- progress & randomness ---
export { Progress, formatNumber, formatDuration, formatBytes, type ProgressOptions } from './progress';
export { Rng, mixSeed, epochPermutation } from './rng';

// --- statistics: bootstrap intervals, paired tests ---
export {
  DEFAULT_BOOTSTRAP_CONFIG,
  validateBootstrapConfig,
  mean,
  quantileSorted,
  bootstrapCi,
  bootstrapCis,
} from './stats/bootstrap';
export type { BootstrapConfig } from './stats/bootstrap';
export { signFlipPValue, pairedTest, pairedTests } from './stats/paired';
export type { PairedResult } from './stats/paired';
export { compareSystems } from './stats/compare';
export type { PerItemScores, SystemComparison } from './stats/compare';

// --- engine ---
export { initEngine, engineInfo, BACKEND_CHOICES, AUTO_ORDER } from './engine/backend';
export type {
  BackendName,
  BackendChoice,
  EngineOptions,
  EngineInfo,
  CandidateReport,
  NativeInfo,
  WasmInfo,
  MemorySnapshot,
  ModuleLoader,
} from './engine/backend';
export { WASM_FIXES } from './engine/wasm-fixes';
export {
  checkpointBlock,
  gradientCheckpointing,
  nextDropoutSeed,
  resetDropoutSeeds,
  scopedDropoutSeed,
  setGradientCheckpointing,
  trainingBlock,
} from './engine/checkpoint';
export { installFrugalBackprop, frugalBackpropInstalled } from './engine/backprop';
export {
  BACKPROP_FLOATS_PER_TOKEN,
  OutOfMemoryError,
  WASM_HEAP_MAX_BYTES,
  estimateBackpropBytes,
  explainOutOfMemory,
  isWasmOutOfMemory,
  trainingMemoryLimitBytes,
  wasmHeapBytes,
} from './engine/memory';
export type { BackpropEstimateOptions, TransformerShape } from './engine/memory';
export {
  allocSharedGrads,
  gradSlot,
  sharedBarrier,
  sumSharedGrads,
  validateSharedGradLayout,
} from './engine/shared-grad-sum';
export type { SharedGradLayout } from './engine/shared-grad-sum';
export type { WasmFixName } from './engine/wasm-fixes';

// --- engine: WebGPU and single-file bundles ---
export { DEFAULT_WEBGPU_OPTIONS } from './engine/webgpu';
export type { WebGpuOptions, WebGpuInfo, WebGpuFeatureLevel, WebGpuPowerPreference } from './engine/webgpu';
export { WEBGPU_FIXES } from './engine/webgpu-fixes';
export type { WebGpuFixName } from './engine/webgpu-fixes';
export { provideBackendModule } from './engine/module-loader';

// --- engine: synchronous reads (false on webgpu under Node) ---
export { canReadSync } from './engine/webgpu';

// --- file formats ---
export { atomicWriteFile, atomicWriteFileWith, atomicWriteDir, recoverInterruptedSwap } from './io/atomic';
export { checkReplaceableOut, INDEX_DIR_MARKERS, MODEL_DIR_MARKERS } from './io/out-guard';
export type { OutGuardOptions } from './io/out-guard';
export type { AtomicWriteDirOptions } from './io/atomic';
export { halfBitsToFloat, bf16BitsToFloat } from './io/float16';
export {
  MAX_SAFETENSORS_HEADER_BYTES,
  parseSafetensors,
  parseSafetensorsWithMetadata,
  readSafetensors,
  readSafetensorsWithMetadata,
  readSafetensorsEach,
  serializeSafetensors,
  writeSafetensors,
} from './io/safetensors';
export { toTfTensor, toTfTensors, fromTfTensor, fromTfTensors } from './io/tf-tensors';
export type { SafetensorsDtype, SafetensorsTensor, SafetensorsMap, WritableTensor } from './io/safetensors';
export { readGgufHeader, readGgufTensors, ggufMeta } from './io/gguf';
export type { GgufHeader, GgufTensorInfo, GgufValue } from './io/gguf';
export { ggufTokenizer, ggufTokenizerFiles } from './io/gguf-tokenizer';
export { dequantize, ggmlType, ggmlByteSize, GGML_BLOCKS, GGML_TYPE_NAMES } from './io/gguf-dequant';
export type { GgmlType } from './io/gguf-dequant';
export {
  CONFIG_FILE,
  WEIGHTS_FILE,
  readJsonObject,
  readConfigJson,
  readModelDir,
  requireConfigFields,
  writeModelDir,
} from './io/model-dir';
export type { ModelDirContents } from './io/model-dir';

// --- models by name: Hugging Face Hub client and cache ---
export { resolveModel, resolveFromCache } from './io/hub/resolve-model';
export {
  parseModelId,
  isModelId,
  isCommitSha,
  formatModelId,
  DEFAULT_REVISION,
  MODEL_ID_FORMS,
} from './io/hub/model-id';
export type { ModelId } from './io/hub/model-id';
export {
  hubOptionsFromEnv,
  validateHubOptions,
  hubCacheDir,
  hfHome,
  hubToken,
  DEFAULT_HUB_ENDPOINT,
} from './io/hub/hub-options';
export type { HubOptions } from './io/hub/hub-options';
export { repoFolderName, repoCachePath, snapshotPath, readRef, cachedFile } from './io/hub/cache-layout';
export { selectModelFiles, shardFiles, MODEL_METADATA_FILES, GGUF_PREFERENCE } from './io/hub/file-selection';
export type { ModelFileSelection } from './io/hub/file-selection';
export { HubError } from './io/hub/hub-errors';
export type { HubErrorKind } from './io/hub/hub-errors';
// --- ONNX export and ONNX Runtime (loaded lazily) ---
export * from './io/onnx/index';

// --- tokenizers ---
export {
  TOKENIZER_FILE,
  TOKENIZER_CONFIG_FILE,
  SPECIAL_TOKENS_MAP_FILE,
  SPECIAL_TOKEN_KEYS,
  resolveSpecialTokenIds,
  specialTokensMapFromConfig,
  tokenizerFiles,
  saveTokenizerFiles,
} from './tokenizers/tokenizer';
export type {
  Tokenizer,
  SpecialTokenIds,
  EncodeOptions,
  DecodeOptions,
  EncodingWithOffsets,
  TokenizerJSON,
  TokenizerConfigJSON,
} from './tokenizers/tokenizer';
export { loadTokenizer, nativeTokenizerFromJSON } from './tokenizers/load';
export { NativeTokenizer, UnsupportedTokenizerError, cleanUpTokenization } from './tokenizers/native-tokenizer';
export { WordPieceTokenizer, wordPieceFiles, DEFAULT_BERT_SPECIAL_TOKENS } from './tokenizers/wordpiece';
export type { BertSpecialTokens, WordPieceLayout } from './tokenizers/wordpiece';
export { ByteLevelBPETokenizer, byteLevelBPEFiles } from './tokenizers/byte-level-bpe';
export type { DecoderSpecialTokens, ByteLevelBPELayout } from './tokenizers/byte-level-bpe';
export { BYTE_TO_CHAR, CHAR_TO_BYTE, toByteChars, fromByteChars } from './tokenizers/byte-level';
export { bertNormalize, bertPreTokenize } from './tokenizers/bert-normalizer';
export type { BertNormalizerOptions } from './tokenizers/bert-normalizer';
export {
  trainWordPiece,
  validateWordPieceTrainerConfig,
  DEFAULT_WORDPIECE_TRAINER_CONFIG,
} from './tokenizers/train-wordpiece';
export type { WordPieceTrainerConfig } from './tokenizers/train-wordpiece';
export {
  trainByteLevelBPE,
  validateByteLevelBPETrainerConfig,
  DEFAULT_BPE_TRAINER_CONFIG,
} from './tokenizers/train-bpe';
export type { ByteLevelBPETrainerConfig } from './tokenizers/train-bpe';
export { learnMerges } from './tokenizers/merge-learner';
export type { WordTable, LearnMergesOptions, LearnedMerges } from './tokenizers/merge-learner';

// --- run reports (metrics.jsonl + eval JSON -> self-contained HTML) ---
export * from './report/index';
