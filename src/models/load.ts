// Loading and saving whole Hugging Face model folders: config.json decides the
// architecture, the weights are checked and loaded by name, and saving writes
// the same layout back (config, safetensors) so Python loads it too.
import { join } from 'node:path';
import type { Device, DType } from '../engine/index.js';
import { ParamInit } from '../nn/init.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { checkConfigAgainstWeights, loadWeights, saveWeights, type LoadWeightsResult } from './checkpoint.js';
import { readConfig, type ModelConfig } from './config.js';
import { LlamaForCausalLM, type CausalLM } from './llama.js';
import { LlavaForConditionalGeneration } from './llava.js';

export interface LoadModelOptions {
  dtype?: DType;
  device?: Device;
}

export interface LoadedModel {
  model: CausalLM;
  config: ModelConfig;
  dir: string;
  /** Checkpoint tensors no parameter used (reported, not fatal). */
  unused: string[];
}

/** Builds the architecture a config describes, with random (seeded) or unset weights. */
export function buildModel(config: ModelConfig, init: ParamInit): CausalLM {
  return config.modelType === 'llava' ? new LlavaForConditionalGeneration(config, init) : new LlamaForCausalLM(config, init);
}

/**
 * Llava checkpoints come in two layouts: the classic one
 * (`language_model.model.*`, `language_model.lm_head.*`, `vision_tower.*`,
 * `multi_modal_projector.*`) and transformers ≥ 4.52's
 * (`model.language_model.*`, `lm_head.*`, `model.vision_tower.*`, ...).
 */
export function llavaAlternates(name: string): string[] {
  if (name.startsWith('language_model.model.')) return [`model.language_model.${name.slice('language_model.model.'.length)}`];
  if (name.startsWith('language_model.lm_head.')) return [name.slice('language_model.'.length)];
  if (name.startsWith('vision_tower.') || name.startsWith('multi_modal_projector.')) return [`model.${name}`];
  return [];
}

const isBuffer = (k: string): boolean => k.endsWith('rotary_emb.inv_freq') || k.endsWith('position_ids');

export function loadModel(dir: string, o: LoadModelOptions = {}): LoadedModel {
  const config = readConfig(dir);
  checkConfigAgainstWeights(config, dir); // sizes against the weights' headers, before anything is allocated
  const dtype = o.dtype ?? 'float32';
  const device = o.device ?? 'cpu';
  const model = buildModel(config, new ParamInit({ mode: 'empty', dtype, device }));
  let res: LoadWeightsResult;
  try {
    const tied = config.modelType === 'llava' ? config.text.tieWordEmbeddings : config.tieWordEmbeddings;
    res = loadWeights(model, dir, {
      dtype,
      device,
      alternates: config.modelType === 'llava' ? llavaAlternates : undefined,
      // a tied head may still be stored; the embedding matrix is what counts
      ignoreUnused: (k) => isBuffer(k) || (tied && /(^|\.)lm_head\.weight$/.test(k)),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, config, dir, unused: res.unused };
}

/** Writes config.json and the weights (in their dtype unless one is given). */
export function saveModel(model: CausalLM, config: ModelConfig, dir: string, o: { dtype?: DType } = {}): void {
  const dtype = o.dtype ?? model.parameters()[0]?.dtype ?? 'float32';
  const raw: Record<string, unknown> = { ...config.raw, torch_dtype: dtype };
  if (config.modelType === 'llava') raw.text_config = { ...(config.text.raw), torch_dtype: dtype };
  saveWeights(model, dir, { dtype });
  writeJsonAtomic(join(dir, 'config.json'), raw);
}
