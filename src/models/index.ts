// Models: Hugging Face model folders (llama, mistral, qwen2, llava) loaded into
// the engine, their tokenizers and chat templates, generation, LoRA adapters in
// PEFT's layout, and `bdlab model new` presets.
export * from './config.js';
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP, LlamaRotaryEmbedding, ropeInvFreq, buildAttentionMask, positionsFromMask, type CausalLM, type CausalLMInput, type CausalLMOutput, type DecoderInput, type DecoderOutput } from './llama.js';
export { LlavaForConditionalGeneration, LlavaMultiModalProjector, type LlavaInput } from './llava.js';
export { ClipVisionModel, ClipVisionTransformer } from './clip.js';
export { KVCache } from './kv-cache.js';
export { loadModel, saveModel, buildModel, llavaAlternates, type LoadModelOptions, type LoadedModel } from './load.js';
export { loadWeights, saveWeights, checkpointTensors, hasWeights } from './checkpoint.js';
export { TextTokenizer, type ChatMessage, type ChatTemplateOptions } from './tokenizer.js';
export { generate, leftPad, expandImageTokens, type GenerateOptions, type GenerateResult, type StreamEvent, type FinishReason } from './generate.js';
export { chooseToken, type SamplingOptions } from './sampling.js';
export { preprocessImage, preprocessImages, loadRgb, readImageProcessorConfig, preprocessorConfigJson, defaultImageProcessorConfig, type ImageInput, type RawImage, type ImageProcessorConfig } from './image-processor.js';
export { saveAdapter, loadAdapter, readAdapterConfig, adapterConfigJson, type AdapterConfig } from './peft.js';
export { newModelFolder, presetConfigJson, generatedTokenizerJson, tokenizerConfigJson, writeTokenizerFiles, CHAT_TEMPLATE, SPECIAL_TOKENS, ARCHS, PRESETS, type Arch, type Preset } from './presets.js';
export { copyTokenizerFiles } from './files.js';
export { inspectIds, inspectText } from './inspect.js';
