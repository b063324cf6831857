/**
 * Limits on what files and flags may ask of this process. Each is checked
 * before the memory or time it bounds is spent, and each is far above what a
 * real model, tokenizer or evaluation needs (the largest published value is
 * given where there is one); docs/limits.md lists them with their reasons.
 */

// ---- model configs (config.json) ----
/** Decoder or vision layers (Llama-3.1-405B: 126). */
export const MAX_LAYERS = 1024;
/** hidden_size (Llama-3.1-405B: 16,384). */
export const MAX_HIDDEN_SIZE = 65_536;
/** intermediate_size (Llama-3.1-405B: 53,248). */
export const MAX_INTERMEDIATE_SIZE = 524_288;
/** Attention heads (Llama-3.1-405B: 128). */
export const MAX_HEADS = 1024;
/** head_dim (published models: 64 to 256). */
export const MAX_HEAD_DIM = 1024;
/** vocab_size (Gemma 3: 262,208). */
export const MAX_VOCAB_SIZE = 4_194_304;
/** max_position_embeddings (Llama 4 Scout: 10,485,760). */
export const MAX_POSITION_EMBEDDINGS = 16_777_216;
/** rope_theta (Llama 4: 500,000; some long-context models use 1e8). */
export const MAX_ROPE_THETA = 1e12;
/** RoPE scaling factor (published: up to 64). */
export const MAX_ROPE_FACTOR = 1024;
/** Image side in pixels: vision image_size, processor shortest_edge and crop (published: 224 to 896). */
export const MAX_IMAGE_SIDE = 4096;
/** Image patches per image of a vision tower ((image_size / patch_size)²; CLIP-L/336: 576). */
export const MAX_IMAGE_PATCHES = 65_536;

// ---- adapters (adapter_config.json) ----
/** LoRA rank (published adapters: 4 to 256). */
export const MAX_LORA_RANK = 65_536;

// ---- files read ----
/** Small JSON files of a model folder (config.json, adapter_config.json, index files, ...). */
export const MAX_CONFIG_FILE_BYTES = 64 * 1024 ** 2;
/** tokenizer.json (Gemma 3's is 33 MB). */
export const MAX_TOKENIZER_FILE_BYTES = 256 * 1024 ** 2;
/** Nesting depth of JSON files other than data sets (a config nests about 4 levels; tokenizer.json about 6). */
export const MAX_JSON_DEPTH = 64;
/** safetensors header bytes (the format's own limit). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;
/** Dimensions of one tensor in a safetensors header. */
export const MAX_TENSOR_DIMS = 64;
/** Evaluation inputs read whole (outputs, references, result records). */
export const MAX_EVAL_FILE_BYTES = 256 * 1024 ** 2;

// ---- untrusted programs in model folders ----
/** Chat template: evaluation steps (AST nodes) per rendering; a real template takes a few thousand per conversation. */
export const MAX_TEMPLATE_STEPS = 200_000;
/** Chat template: elements of one range() call. */
export const MAX_TEMPLATE_RANGE = 100_000;
/** Chat template: characters of any string it builds, and of the rendered prompt. */
export const MAX_TEMPLATE_CHARS = 16_000_000;
/** Chat template: a width (indent, tojson indent) or other numeric filter argument. */
export const MAX_TEMPLATE_WIDTH = 10_000;
/** Time allowed to a tokenizer whose regular expressions may backtrack badly: this base, plus REGEX_MS_PER_CHAR per input character. */
export const REGEX_TIME_LIMIT_MS = 1000;
export const REGEX_MS_PER_CHAR = 0.01;

// ---- evaluation ----
/** Bootstrap resamples (0.1 % resolution of a percentile needs about 10,000). */
export const MAX_BOOTSTRAP = 100_000;
/** Bytes of one reply of an OpenAI-compatible endpoint (judge, paraphraser, generation; a 512-token answer is a few kB). */
export const MAX_JUDGE_REPLY_BYTES = 8 * 1024 ** 2;
