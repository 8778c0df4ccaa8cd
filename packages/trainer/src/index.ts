// @dalm/trainer public API

// --- training loop ---
export { train, microBatchIndices, planMemory, MEMORY_ADVICE, MEMORY_HEADROOM } from './loop/trainer';
export type {
  Dataset,
  StepContext,
  LossOutput,
  GradientOutput,
  TrainTask,
  StepInfo,
  TrainCallbacks,
  TrainResult,
  TrainMemory,
  MemoryPlan,
} from './loop/trainer';
export { DEFAULT_TRAIN_LOOP_CONFIG, GRADIENT_CHECKPOINTING_MODES, validateTrainLoopConfig } from './loop/config';
export type { TrainLoopConfig, GradientCheckpointingMode } from './loop/config';
export { saveCheckpoint, loadCheckpoint, listCheckpoints, checkpointDir } from './loop/checkpoint';
export type { TrainerState } from './loop/checkpoint';
export { MetricLog, readMetricLog } from './loop/metric-log';

// --- optimizer ---
export { AdamW, DEFAULT_ADAMW_CONFIG, defaultDecays } from './optim/adamw';
export type { AdamWConfig } from './optim/adamw';
export { learningRateAt, SCHEDULE_DECAYS } from './optim/schedule';
export type { ScheduleConfig } from './optim/schedule';
export { clipByGlobalNorm } from './optim/clip';

// --- losses ---
export { infoNceLoss, DEFAULT_INFO_NCE } from './losses/info-nce';
export type { InfoNceOptions } from './losses/info-nce';
export { sequenceLogLikelihood, maskedTokenNll } from './losses/token-nll';
export { ragSequenceLoss, ragPosterior } from './losses/rag-sequence';

// --- recipes ---
export {
  trainRetriever,
  gradCacheGradients,
  collateContrastive,
  DEFAULT_RETRIEVER_TRAIN_CONFIG,
  validateRetrieverTrainConfig,
} from './recipes/retriever';
export type { RetrieverTrainConfig, RetrieverTrainHooks, ContrastiveBatch, TextLengths } from './recipes/retriever';
export { encoderShape, fittingGradCacheChunk, retrieverTrainMemory, sampleTextLengths } from './recipes/retriever';
export { decoderShape, decoderTrainMemory } from './recipes/decoder-memory';
export {
  trainGenerator,
  encodeExample,
  collateLm,
  lmLoss,
  DEFAULT_GENERATOR_TRAIN_CONFIG,
  validateGeneratorTrainConfig,
} from './recipes/generator';
export type { GeneratorTrainConfig, GeneratorTrainHooks, EncodedExample, LmBatch } from './recipes/generator';

// --- data ---
export { readPairs, writePairs, pairsFromQrels, DEFAULT_PAIR_FIELDS } from './data/pairs';
export type { TrainingPair, PairFields } from './data/pairs';
export { ictPairs, sentenceSpans, DEFAULT_ICT_CONFIG } from './data/ict';
export type { IctConfig } from './data/ict';
export { mineHardNegatives, pickNegatives, DEFAULT_HARD_NEGATIVE_CONFIG } from './data/hard-negatives';
export type { HardNegativeConfig } from './data/hard-negatives';
export { readQaExamples, writeQaExamples } from './data/qa';
export type { ReadQaOptions } from './data/qa';
export type { QaExample } from './data/qa';
export { qrelsFromQa, pairsFromQa, qaCoverageNote } from './data/qa-retrieval';
export type { QaQrels, QaPairs } from './data/qa-retrieval';
export { buildRaftExamples, goldIds, swapAnswer, DEFAULT_RAFT_CONFIG } from './data/raft';
export type { GeneratorExample, RaftConfig } from './data/raft';

// --- pipelines ---
export {
  MODEL_SIZES,
  ENCODER_PRESETS,
  DECODER_PRESETS,
  SCRATCH_READER_RECIPE,
  scratchEncoder,
  scratchGenerator,
  checkModelSize,
} from './pipeline/presets';
export type { ModelSize, ScratchReaderRecipe } from './pipeline/presets';
export { loadWordnetDomain, parseDataLine, wordnetDictPath, WORDNET_NOUN_DOMAINS } from './data/wordnet';
export type { WordnetDomain, WordnetDocument } from './data/wordnet';
export { runQuickstart, formatQuickstartReport, DEFAULT_QUICKSTART_CONFIG } from './pipeline/quickstart';
export type { QuickstartConfig, QuickstartReport } from './pipeline/quickstart';

// --- recipes: end-to-end (retriever + generator, RAG-sequence marginal) ---
export {
  trainEndToEnd,
  collateE2E,
  e2eLoss,
  e2eRetrievalScores,
  e2eAnswerLogLik,
  DEFAULT_E2E_TRAIN_CONFIG,
  validateE2ETrainConfig,
  PASSAGE_MODES,
} from './recipes/e2e';
export type {
  E2ETrainConfig,
  E2ETrainHooks,
  E2ETrainResult,
  E2EModels,
  E2EBatch,
  ContrastiveInputs,
  PassageMode,
} from './recipes/e2e';
export { PassageVectorIndex, PASSAGE_INDEX_KINDS } from './recipes/e2e-index';
export type { PassageIndexKind, PassageVectorIndexOptions, RetrieveOptions } from './recipes/e2e-index';

// --- data: QA pairs from raw documents ---
export {
  splitByDocument,
  DEFAULT_DOCUMENT_SPLIT_CONFIG,
  parseGeneratedQa,
  answerIsGrounded,
  questionsFromOutputs,
  questionPromptIds,
  generateQuestions,
  validateQuestionGenConfig,
  DEFAULT_QUESTION_FILTER_CONFIG,
  DEFAULT_QUESTION_GEN_CONFIG,
  DEFAULT_QUESTION_PROMPT,
} from './data/qa-gen';
export type {
  DocumentSplitConfig,
  QuestionFilterConfig,
  QuestionGenConfig,
  QuestionGenResult,
  QuestionRejection,
  ParsedQa,
} from './data/qa-gen';
export { clozeQuestions, clozeOfSentence, salientSpans, DEFAULT_CLOZE_CONFIG } from './data/cloze';
export type { ClozeConfig } from './data/cloze';
export { trainLanguageModel, lmWindows, DEFAULT_LM_TRAIN_CONFIG, validateLmTrainConfig } from './recipes/lm';
export type { LmTrainConfig } from './recipes/lm';
