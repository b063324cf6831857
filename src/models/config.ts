// config.json parsing for the model types this project runs: llama, mistral,
// qwen2 (decoders) and llava (CLIP vision tower + projector + decoder). Each
// parser validates what the forward pass needs and names the bad field, with
// every size checked against the limits of src/util/limits.ts and against
// the others before anything is allocated; the raw JSON is kept so saving
// writes back what was read.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { ACT2FN, isActivation, type ActivationName } from '../nn/activations.js';
import { readJsonObjectFile } from '../util/json-limits.js';
import {
  MAX_CONFIG_FILE_BYTES,
  MAX_HEAD_DIM,
  MAX_HEADS,
  MAX_HIDDEN_SIZE,
  MAX_IMAGE_PATCHES,
  MAX_IMAGE_SIDE,
  MAX_INTERMEDIATE_SIZE,
  MAX_LAYERS,
  MAX_POSITION_EMBEDDINGS,
  MAX_ROPE_FACTOR,
  MAX_ROPE_THETA,
  MAX_VOCAB_SIZE,
} from '../util/limits.js';
import { checkModelFolder } from './files.js';

export type Json = Record<string, unknown>;

export interface RopeScaling {
  /** 'default' (none), 'linear' (position interpolation) or 'llama3'. */
  type: 'default' | 'linear' | 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface LlamaConfig {
  modelType: 'llama' | 'mistral' | 'qwen2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (qwen2 always; llama when attention_bias). */
  qkvBias: boolean;
  /** Bias on the output projection (llama's attention_bias only). */
  oBias: boolean;
  mlpBias: boolean;
  hiddenAct: ActivationName;
  /**
   * Mistral's sliding window: a query at position i sees keys j with
   * i − window < j ≤ i (positions in the padded sequence, as transformers'
   * cache positions); null = none.
   */
  slidingWindow: number | null;
  initializerRange: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  raw: Json;
}

export interface ClipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  layerNormEps: number;
  hiddenAct: ActivationName;
  raw: Json;
}

export interface LlavaConfig {
  modelType: 'llava';
  text: LlamaConfig;
  vision: ClipVisionConfig;
  imageTokenId: number;
  projectorHiddenAct: ActivationName;
  projectorBias: boolean;
  /** Which CLIP hidden state(s) feed the projector (negative counts from the end; a list is concatenated). */
  visionFeatureLayer: number | number[];
  visionFeatureSelectStrategy: 'default' | 'full';
  raw: Json;
}

export type ModelConfig = LlamaConfig | LlavaConfig;

class ConfigReader {
  constructor(
    private readonly where: string,
    private readonly j: Json,
  ) {}

  has(k: string): boolean {
    return this.j[k] !== undefined && this.j[k] !== null;
  }

  int(k: string, fallback?: number): number {
    const v = this.j[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new UserError(`${this.where}: '${k}' must be a non-negative integer, got ${JSON.stringify(this.j[k])}`);
    }
    return v;
  }

  /** A positive integer, at most `max` (a limit of src/util/limits.ts). */
  posInt(k: string, fallback?: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.int(k, fallback);
    if (v === 0) throw new UserError(`${this.where}: '${k}' must be positive`);
    if (v > max) throw new UserError(`${this.where}: '${k}' is ${v}, more than the ${max} this tool accepts`);
    return v;
  }

  num(k: string, fallback?: number): number {
    const v = this.j[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${this.where}: '${k}' must be a number, got ${JSON.stringify(this.j[k])}`);
    return v;
  }

  /** A finite number in [lo, hi] (`open` excludes lo: a positive number). */
  range(k: string, fallback: number | undefined, lo: number, hi: number, open = false): number {
    const v = this.num(k, fallback);
    if (open ? v <= lo : v < lo) throw new UserError(`${this.where}: '${k}' must be ${open ? `greater than ${lo}` : `at least ${lo}`}, got ${v}`);
    if (v > hi) throw new UserError(`${this.where}: '${k}' is ${v}, more than the ${hi} this tool accepts`);
    return v;
  }

  bool(k: string, fallback: boolean): boolean {
    const v = this.j[k] ?? fallback;
    if (typeof v !== 'boolean') throw new UserError(`${this.where}: '${k}' must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(k: string, fallback: string): string {
    const v = this.j[k] ?? fallback;
    if (typeof v !== 'string') throw new UserError(`${this.where}: '${k}' must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  optInt(k: string): number | null {
    return this.has(k) ? this.int(k) : null;
  }

  ids(k: string): number[] {
    const v = this.j[k];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isInteger(x))) {
      throw new UserError(`${this.where}: '${k}' must be a token id or a list of them`);
    }
    return list as number[];
  }

  obj(k: string): Json | null {
    const v = this.j[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${this.where}: '${k}' must be an object`);
    return v as Json;
  }

  fail(msg: string): never {
    throw new UserError(`${this.where}: ${msg}`);
  }
}

/**
 * Rotary settings from either spelling: `rope_theta` + `rope_scaling` (most
 * checkpoints) or `rope_parameters` (newer transformers).
 */
function parseRope(r: ConfigReader, j: Json, where: string, maxPos: number): { theta: number; scaling: RopeScaling } {
  const params = r.obj('rope_parameters');
  const scalingJson = params ?? r.obj('rope_scaling');
  // theta 0 or below makes every frequency infinite or NaN: the model would print nothing, silently
  const theta =
    params && params.rope_theta !== undefined
      ? new ConfigReader(`${where} rope_parameters`, params).range('rope_theta', undefined, 0, MAX_ROPE_THETA, true)
      : r.range('rope_theta', 10000, 0, MAX_ROPE_THETA, true);
  const none: RopeScaling = { type: 'default', factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: maxPos };
  if (!scalingJson) return { theta, scaling: none };
  const s = new ConfigReader(`${where} ${params ? 'rope_parameters' : 'rope_scaling'}`, scalingJson);
  const type = s.str('rope_type', typeof scalingJson.type === 'string' ? scalingJson.type : 'default');
  if (type === 'default') return { theta, scaling: none };
  // every frequency is divided by the factor: 0 gives infinities
  if (type === 'linear') return { theta, scaling: { ...none, type: 'linear', factor: s.range('factor', undefined, 0, MAX_ROPE_FACTOR, true) } };
  if (type === 'llama3') {
    const lowFreqFactor = s.range('low_freq_factor', 1, 0, MAX_ROPE_FACTOR, true);
    const highFreqFactor = s.range('high_freq_factor', 4, 0, MAX_ROPE_FACTOR, true);
    // the blend between the two divides by their difference
    if (highFreqFactor <= lowFreqFactor) s.fail(`'high_freq_factor' (${highFreqFactor}) must be greater than 'low_freq_factor' (${lowFreqFactor})`);
    return {
      theta,
      scaling: {
        type: 'llama3',
        factor: s.range('factor', undefined, 0, MAX_ROPE_FACTOR, true),
        lowFreqFactor,
        highFreqFactor,
        originalMaxPositionEmbeddings: s.posInt('original_max_position_embeddings', 8192, MAX_POSITION_EMBEDDINGS),
      },
    };
  }
  void j;
  return s.fail(`rope type '${type}' is not supported (supported: default, linear, llama3)`);
}

/** MistralConfig's default when config.json has no `sliding_window` key (transformers' MistralConfig). */
export const MISTRAL_DEFAULT_SLIDING_WINDOW = 4096;

/**
 * The attention window, as transformers reads it. mistral: `sliding_window`
 * on every layer; a missing key means MistralConfig's default 4096, an
 * explicit null means none (Mistral-7B v0.2 and later). llama: none. qwen2:
 * none unless `use_sliding_window`, and then transformers windows only the
 * layers from `max_window_layers` on (or those `layer_types` marks
 * 'sliding_attention'), which this decoder does not do: such configs are
 * refused by name rather than computed differently.
 */
function parseSlidingWindow(r: ConfigReader, j: Json, modelType: string, numLayers: number): number | null {
  if (modelType === 'mistral') {
    if (j.sliding_window === undefined) return MISTRAL_DEFAULT_SLIDING_WINDOW;
    return r.has('sliding_window') ? r.posInt('sliding_window', undefined, MAX_POSITION_EMBEDDINGS) : null;
  }
  if (modelType !== 'qwen2') return null;
  const types = j.layer_types;
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types) || !types.every((t) => typeof t === 'string')) r.fail("'layer_types' must be a list of strings");
    if (types.includes('sliding_attention')) {
      r.fail("'layer_types' marks layers 'sliding_attention'; qwen2 per-layer sliding-window attention is not supported");
    }
  }
  if (!r.bool('use_sliding_window', false)) return null;
  const window = r.optInt('sliding_window');
  const maxWindowLayers = r.int('max_window_layers', 28);
  if (window !== null && maxWindowLayers < numLayers) {
    r.fail(
      `'use_sliding_window' is true: transformers would window layers ${maxWindowLayers} to ${numLayers - 1} (max_window_layers ${maxWindowLayers}) to ${window} tokens, ` +
        'and qwen2 per-layer sliding-window attention is not supported (the published Qwen2 checkpoints set use_sliding_window false)',
    );
  }
  return null;
}

export function parseLlamaConfig(j: Json, where = 'config.json'): LlamaConfig {
  const r: ConfigReader = new ConfigReader(where, j);
  const modelType = r.str('model_type', 'llama');
  if (modelType !== 'llama' && modelType !== 'mistral' && modelType !== 'qwen2') {
    r.fail(`model_type '${modelType}' is not a supported decoder (llama, mistral, qwen2)`);
  }
  const hiddenSize = r.posInt('hidden_size', undefined, MAX_HIDDEN_SIZE);
  const numAttentionHeads = r.posInt('num_attention_heads', undefined, MAX_HEADS);
  const numKeyValueHeads = r.posInt('num_key_value_heads', numAttentionHeads, MAX_HEADS);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    r.fail(`num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`);
  }
  const headDim = r.has('head_dim') ? r.posInt('head_dim', undefined, MAX_HEAD_DIM) : hiddenSize / numAttentionHeads;
  if (!Number.isInteger(headDim)) r.fail(`hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numAttentionHeads}) and no head_dim is given`);
  if (headDim % 2 !== 0) r.fail(`head_dim must be even for rotary embeddings, got ${headDim}`);
  if (headDim * numAttentionHeads > MAX_HIDDEN_SIZE) {
    r.fail(`head_dim × num_attention_heads (${headDim} × ${numAttentionHeads}) is more than the ${MAX_HIDDEN_SIZE} this tool accepts as an attention width`);
  }
  const maxPos = r.posInt('max_position_embeddings', 2048, MAX_POSITION_EMBEDDINGS);
  const rope = parseRope(r, j, where, maxPos);
  const act = r.str('hidden_act', 'silu');
  if (!isActivation(act)) r.fail(`hidden_act '${act}' is not supported (${Object.keys(ACT2FN).join(', ')})`);
  const attentionBias = r.bool('attention_bias', false);
  const numHiddenLayers = r.posInt('num_hidden_layers', undefined, MAX_LAYERS);
  const slidingWindow = parseSlidingWindow(r, j, modelType, numHiddenLayers);
  return {
    modelType,
    vocabSize: r.posInt('vocab_size', undefined, MAX_VOCAB_SIZE),
    hiddenSize,
    intermediateSize: r.posInt('intermediate_size', undefined, MAX_INTERMEDIATE_SIZE),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    // a negative epsilon can put a negative number under the square root: NaN everywhere
    rmsNormEps: r.range('rms_norm_eps', 1e-6, 0, 1),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    maxPositionEmbeddings: maxPos,
    tieWordEmbeddings: r.bool('tie_word_embeddings', false),
    qkvBias: modelType === 'qwen2' ? true : attentionBias,
    oBias: modelType === 'qwen2' ? false : attentionBias,
    mlpBias: r.bool('mlp_bias', false),
    hiddenAct: act,
    slidingWindow,
    initializerRange: r.range('initializer_range', 0.02, 0, 1e3),
    bosTokenId: r.optInt('bos_token_id'),
    eosTokenIds: r.ids('eos_token_id'),
    padTokenId: r.optInt('pad_token_id'),
    raw: j,
  };
}

export function parseClipVisionConfig(j: Json, where = 'config.json vision_config'): ClipVisionConfig {
  const r: ConfigReader = new ConfigReader(where, j);
  const act = r.str('hidden_act', 'quick_gelu');
  if (!isActivation(act)) r.fail(`hidden_act '${act}' is not supported (${Object.keys(ACT2FN).join(', ')})`);
  const hiddenSize = r.posInt('hidden_size', 768, MAX_HIDDEN_SIZE);
  const heads = r.posInt('num_attention_heads', 12, MAX_HEADS);
  if (hiddenSize % heads !== 0) r.fail(`hidden_size (${hiddenSize}) must be divisible by num_attention_heads (${heads})`);
  const imageSize = r.posInt('image_size', 224, MAX_IMAGE_SIDE);
  const patchSize = r.posInt('patch_size', 32, MAX_IMAGE_SIDE);
  if (imageSize % patchSize !== 0) r.fail(`image_size (${imageSize}) must be a multiple of patch_size (${patchSize})`);
  if ((imageSize / patchSize) ** 2 > MAX_IMAGE_PATCHES) r.fail(`image_size / patch_size (${imageSize} / ${patchSize}) gives ${(imageSize / patchSize) ** 2} patches, more than the ${MAX_IMAGE_PATCHES} this tool accepts`);
  return {
    hiddenSize,
    intermediateSize: r.posInt('intermediate_size', 3072, MAX_INTERMEDIATE_SIZE),
    numHiddenLayers: r.posInt('num_hidden_layers', 12, MAX_LAYERS),
    numAttentionHeads: heads,
    imageSize,
    patchSize,
    numChannels: r.posInt('num_channels', 3, 16),
    layerNormEps: r.range('layer_norm_eps', 1e-5, 0, 1),
    hiddenAct: act,
    raw: j,
  };
}

export function parseLlavaConfig(j: Json, where = 'config.json'): LlavaConfig {
  const r: ConfigReader = new ConfigReader(where, j);
  const textJson = r.obj('text_config') ?? r.fail("'text_config' is missing");
  const visionJson = r.obj('vision_config') ?? r.fail("'vision_config' is missing");
  // text_config may omit model_type (older llava configs default it to llama)
  const text = parseLlamaConfig({ model_type: 'llama', ...textJson }, `${where} text_config`);
  if (j.tie_word_embeddings !== undefined && textJson.tie_word_embeddings === undefined) text.tieWordEmbeddings = r.bool('tie_word_embeddings', false);
  const vision = parseClipVisionConfig(visionJson, `${where} vision_config`);
  const act = r.str('projector_hidden_act', 'gelu');
  if (!isActivation(act)) r.fail(`projector_hidden_act '${act}' is not supported (${Object.keys(ACT2FN).join(', ')})`);
  const vfl = j.vision_feature_layer ?? -2;
  const layers = Array.isArray(vfl) ? vfl : [vfl];
  const n = vision.numHiddenLayers;
  for (const l of layers) {
    if (typeof l !== 'number' || !Number.isInteger(l) || l < -(n + 1) || l > n) {
      r.fail(`vision_feature_layer ${JSON.stringify(l)} is not a hidden-state index of a ${n}-layer vision tower`);
    }
  }
  const strategy = r.str('vision_feature_select_strategy', 'default');
  if (strategy !== 'default' && strategy !== 'full') r.fail(`vision_feature_select_strategy '${strategy}' is not supported (default, full)`);
  const imageTokenId = r.has('image_token_id') ? r.int('image_token_id') : r.int('image_token_index', 32000);
  return {
    modelType: 'llava',
    text,
    vision,
    imageTokenId,
    projectorHiddenAct: act,
    projectorBias: r.bool('multimodal_projector_bias', true),
    visionFeatureLayer: Array.isArray(vfl) ? (vfl as number[]) : (vfl as number),
    visionFeatureSelectStrategy: strategy,
    raw: j,
  };
}

export function parseConfig(j: Json, where = 'config.json'): ModelConfig {
  const type = j.model_type;
  if (type === 'llava') return parseLlavaConfig(j, where);
  if (type === 'llama' || type === 'mistral' || type === 'qwen2') return parseLlamaConfig(j, where);
  throw new UserError(`${where}: model_type ${JSON.stringify(type)} is not supported (llama, mistral, qwen2, llava)`);
}

export function readConfig(dir: string): ModelConfig {
  checkModelFolder(dir);
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new UserError(`${path}: not found (is ${dir} a Hugging Face model folder?)`);
  return parseConfig(readJsonObjectFile(path, MAX_CONFIG_FILE_BYTES, 'config.json'), path);
}

/** The decoder's config of either kind of model. */
export function textConfig(c: ModelConfig): LlamaConfig {
  return c.modelType === 'llava' ? c.text : c;
}

/**
 * preprocessor_config.json, read within limits and checked field by field
 * before any image is resized: sizes positive and at most MAX_IMAGE_SIDE,
 * the crop equal to the vision tower's image_size (its position embeddings
 * fit no other), mean and std three finite numbers with no zero std, the
 * rescale factor a positive number. `imageSize` is the vision tower's.
 */
export function readImageProcessorJson(path: string, imageSize: number): Json {
  const j = readJsonObjectFile(path, MAX_CONFIG_FILE_BYTES, 'preprocessor_config.json');
  const fail = (msg: string): never => {
    throw new UserError(`${path}: ${msg}`);
  };
  const side = (field: string, v: unknown): void => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`'${field}' must be a positive integer, got ${JSON.stringify(v)}`);
    if ((v as number) > MAX_IMAGE_SIDE) fail(`'${field}' is ${v as number} pixels, more than the ${MAX_IMAGE_SIDE} this tool accepts`);
  };
  const sizeLike = (field: string, keys: string[]): void => {
    const v = j[field];
    if (v === undefined || v === null) return;
    if (typeof v === 'number') return side(field, v);
    if (typeof v !== 'object' || Array.isArray(v)) return fail(`'${field}' must be a number or an object, got ${JSON.stringify(v)}`);
    for (const k of keys) side(`${field}.${k}`, (v as Json)[k]);
  };
  sizeLike('size', ['shortest_edge', 'height', 'width', 'longest_edge']);
  sizeLike('crop_size', ['height', 'width']);
  const crop = j.crop_size;
  if (j.do_center_crop !== false && crop !== undefined && crop !== null) {
    const [h, w] = typeof crop === 'number' ? [crop, crop] : [(crop as Json).height, (crop as Json).width];
    if (h !== imageSize || w !== imageSize) fail(`'crop_size' ${JSON.stringify(crop)} differs from the vision tower's image_size ${imageSize}`);
  }
  for (const field of ['image_mean', 'image_std']) {
    const v = j[field];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(`'${field}' must be three finite numbers, got ${JSON.stringify(v)}`);
    // pixels are divided by the std: a zero makes them infinite and the model's output empty
    if (field === 'image_std' && (v as number[]).some((x) => x <= 0)) fail(`'image_std' ${JSON.stringify(v)} must be positive`);
  }
  if (j.rescale_factor !== undefined && (typeof j.rescale_factor !== 'number' || !Number.isFinite(j.rescale_factor) || j.rescale_factor <= 0 || j.rescale_factor > 1)) {
    fail(`'rescale_factor' must be a number in (0, 1], got ${JSON.stringify(j.rescale_factor)}`);
  }
  return j;
}

/**
 * The end-of-sequence ids of generation_config.json (Hugging Face's
 * generate stops on these), or null when the file or the field is absent.
 */
export function readGenerationEos(dir: string, vocabSize: number): number[] | null {
  const path = join(dir, 'generation_config.json');
  if (!existsSync(path)) return null;
  const j = readJsonObjectFile(path, MAX_CONFIG_FILE_BYTES, 'generation_config.json');
  const v = j.eos_token_id;
  if (v === undefined || v === null) return null;
  const ids = Array.isArray(v) ? v : [v];
  if (!ids.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < vocabSize)) {
    throw new UserError(`${path}: 'eos_token_id' must be a token id or a list of them below vocab_size ${vocabSize}, got ${JSON.stringify(v)}`);
  }
  return ids as number[];
}
