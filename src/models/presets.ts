// `bdlab model new`: randomly initialised model folders in Hugging Face's
// format — config.json, model.safetensors, a byte-level BPE tokenizer with a
// chat template, and for LLaVA the image processor settings. `tiny` is sized
// for CI; `mini` (4 layers) for the demo's LLM study; `small` (about 25M
// parameters) for benchmarks.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, type DType } from '../engine/index.js';
import { ParamInit } from '../nn/init.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { bpeTokenizerJson, trainBpe } from './bpe.js';
import { parseConfig, type Json } from './config.js';
import { TOKENIZER_CORPUS } from './corpus.js';
import { preprocessorConfigJson } from './image-processor.js';
import { buildModel, saveModel } from './load.js';

export const ARCHS = ['llama', 'llava'] as const;
export const PRESETS = ['tiny', 'mini', 'small'] as const;
export type Arch = (typeof ARCHS)[number];
export type Preset = (typeof PRESETS)[number];

/** Special tokens of generated tokenizers, ids 0..7 in this order. */
export const SPECIAL_TOKENS = ['<unk>', '<s>', '</s>', '<pad>', '<image>', '<|system|>', '<|user|>', '<|assistant|>'] as const;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const PAD_ID = 3;
export const IMAGE_TOKEN_ID = 4;

/**
 * Each message as `<|role|>\n` + content + `</s>\n`, BOS first, and
 * `<|assistant|>\n` to open the reply when generating.
 */
export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

const MERGES = 4000;

let cachedTokenizer: Record<string, unknown> | null = null;
/** The generated tokenizer.json (merges learned once per process from the built-in corpus). */
export function generatedTokenizerJson(): Record<string, unknown> {
  if (!cachedTokenizer) {
    const bpe = trainBpe(TOKENIZER_CORPUS, MERGES);
    cachedTokenizer = bpeTokenizerJson(
      bpe,
      SPECIAL_TOKENS.map((content) => ({ content, special: true })),
      '<s>',
    );
  }
  return cachedTokenizer;
}

export function tokenizerConfigJson(): Record<string, unknown> {
  const added: Record<string, unknown> = {};
  SPECIAL_TOKENS.forEach((content, id) => (added[String(id)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }));
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: '<s>',
    eos_token: '</s>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: 2048,
    padding_side: 'left',
    added_tokens_decoder: added,
    chat_template: CHAT_TEMPLATE,
  };
}

function vocabSize(): number {
  const vocab = (generatedTokenizerJson().model as { vocab: Record<string, number> }).vocab;
  const n = Object.keys(vocab).length;
  return Math.ceil(n / 64) * 64; // padded like most checkpoints; the extra rows are never produced by the tokenizer
}

function llamaConfigJson(preset: Preset): Json {
  const dims =
    preset === 'tiny'
      ? { hidden_size: 64, intermediate_size: 176, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024 }
      : // mini: the fewest layers with CROW's consecutive-layer pairs (hidden_states[1:-2] vs [2:-1]) to regularise
        preset === 'mini'
        ? { hidden_size: 128, intermediate_size: 384, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024 }
        : { hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 2048 };
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocabSize(),
    ...dims,
    head_dim: dims.hidden_size / dims.num_attention_heads,
    hidden_act: 'silu',
    initializer_range: 0.02,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    tie_word_embeddings: false,
    bos_token_id: BOS_ID,
    eos_token_id: EOS_ID,
    pad_token_id: PAD_ID,
    use_cache: true,
    torch_dtype: 'float32',
  };
}

function llavaConfigJson(preset: Preset): Json {
  const text = llamaConfigJson(preset);
  delete text.architectures;
  const vision =
    preset !== 'small'
      ? { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, image_size: 32, patch_size: 8 }
      : { hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 4, num_attention_heads: 4, image_size: 112, patch_size: 14 };
  return {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    image_token_index: IMAGE_TOKEN_ID,
    image_seq_length: (vision.image_size / vision.patch_size) ** 2,
    projector_hidden_act: 'gelu',
    multimodal_projector_bias: true,
    vision_feature_layer: -2,
    vision_feature_select_strategy: 'default',
    ignore_index: -100,
    tie_word_embeddings: false,
    text_config: text,
    vision_config: { model_type: 'clip_vision_model', ...vision, num_channels: 3, projection_dim: vision.hidden_size, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5 },
    torch_dtype: 'float32',
  };
}

export function presetConfigJson(arch: Arch, preset: Preset): Json {
  if (!(ARCHS as readonly string[]).includes(arch)) throw new UserError(`unknown architecture '${arch}' (known: ${ARCHS.join(', ')})`);
  if (!(PRESETS as readonly string[]).includes(preset)) throw new UserError(`unknown preset '${preset}' (known: ${PRESETS.join(', ')})`);
  return arch === 'llava' ? llavaConfigJson(preset) : llamaConfigJson(preset);
}

export interface NewModelOptions {
  arch: Arch;
  preset: Preset;
  seed?: number;
  dtype?: DType;
  /** Override config.json fields (merged over the preset; for llava, applied at the top level). */
  overrides?: Json;
}

export interface NewModelResult {
  dir: string;
  parameters: number;
  files: string[];
}

/** Writes the generated tokenizer's files into a folder. */
export function writeTokenizerFiles(dir: string): string[] {
  writeJsonAtomic(join(dir, 'tokenizer.json'), generatedTokenizerJson());
  writeJsonAtomic(join(dir, 'tokenizer_config.json'), tokenizerConfigJson());
  writeJsonAtomic(join(dir, 'special_tokens_map.json'), { bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' });
  return ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];
}

/** Writes a complete, randomly initialised model folder. */
export function newModelFolder(dir: string, o: NewModelOptions): NewModelResult {
  const json = { ...presetConfigJson(o.arch, o.preset), ...(o.overrides ?? {}) };
  const config = parseConfig(json, `${o.arch}/${o.preset} preset`);
  mkdirSync(dir, { recursive: true });
  const dtype = o.dtype ?? 'float32';
  const model = noGrad(() => buildModel(config, new ParamInit({ seed: o.seed ?? 0, std: 0.02, dtype })));
  try {
    saveModel(model, config, dir, { dtype });
    const files = ['config.json', 'model.safetensors', ...writeTokenizerFiles(dir)];
    writeJsonAtomic(join(dir, 'generation_config.json'), { bos_token_id: BOS_ID, eos_token_id: EOS_ID, pad_token_id: PAD_ID });
    files.push('generation_config.json');
    if (config.modelType === 'llava') {
      writeJsonAtomic(join(dir, 'preprocessor_config.json'), preprocessorConfigJson(config.vision.imageSize));
      files.push('preprocessor_config.json');
    }
    return { dir, parameters: model.numParameters(), files };
  } finally {
    model.dispose();
  }
}
