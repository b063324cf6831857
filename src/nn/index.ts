// Neural-network modules: a Module base with Hugging Face parameter names,
// the layers the Llama family and CLIP need, and LoRA adapters.
export { Module } from './module.js';
export { ParamInit, type InitOptions } from './init.js';
export { Linear, type LinearLike } from './linear.js';
export { Embedding } from './embedding.js';
export { RMSNorm } from './rmsnorm.js';
export { LayerNorm } from './layernorm.js';
export { LoraLinear, type LoraOptions } from './lora.js';
export {
  applyLora,
  mergeLora,
  loraModules,
  matchesTarget,
  baseParameterName,
  defaultTargetModules,
  loraTargetModules,
  selectedModules,
  DECODER_LINEARS,
  type ApplyLoraOptions,
  type TargetModules,
} from './adapters.js';
export { applyFreeze, isFreezePolicy, FREEZE_POLICIES, type FreezePolicy } from './freeze.js';
