// ONNX: graph building (exporters) and the ONNX Runtime adapter.
export { ONNX_OPSET, ONNX_IR_VERSION, OnnxDataType, OnnxGraph } from './graph';
export type { OnnxAttr, OnnxValueInfo, OnnxModelOptions, OnnxDataTypeCode } from './graph';
export * as onnxLayers from './layers';
export {
  INFERENCE_RUNTIME_CHOICES,
  loadOnnxRuntime,
  requireOnnxRuntime,
  resolveInferenceRuntime,
  createOnnxSession,
  defaultOnnxThreads,
  onnxRuntimeInfo,
} from './runtime';
export type {
  OnnxRuntime,
  OnnxSession,
  OnnxTensor,
  OnnxSessionOptions,
  OnnxRuntimeInfo,
  InferenceRuntime,
  InferenceRuntimeChoice,
} from './runtime';
export { weightsHash } from './weights-hash';
export { ONNX_EXPORT_DIR, ONNX_EXPORT_MODEL_FILE, ONNX_EXPORT_RECORD_FILE, ensureOnnxExport } from './export-cache';
export type { OnnxExportRequest } from './export-cache';
