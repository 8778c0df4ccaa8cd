export { ParamStore, type Init, type ParamOptions, type HostTensor } from './params';
export { Linear, type LinearOptions, type LoraOptions } from './linear';
export { LayerNorm, RMSNorm } from './norm';
export { Embedding } from './embedding';
export {
  attention,
  paddingBias,
  causalBias,
  splitHeads,
  mergeHeads,
  repeatKv,
  MASKED,
  type AttentionOptions,
} from './attention';
export { rotaryTables, applyRotary, type RotaryTables } from './rotary';
export { Mlp, GatedMlp } from './mlp';
export { gelu, geluTanh, silu, activation, type ActivationName } from './activations';
export { dropout } from './dropout';
