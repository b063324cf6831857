// Hugging Face checkpoint IO: fill a module's parameters from a model folder's
// safetensors (single file or sharded index), checking every tensor's name and
// shape first, and write a module back in the same layout. Problems are
// gathered and reported together, by tensor name, shape and file.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, SafetensorsFolder, saveSafetensorsFolder, type Device, type DType, type Tensor } from '../engine/index.js';
import { baseParameterName } from '../nn/adapters.js';
import type { Module } from '../nn/module.js';
import { UserError } from '../util/errors.js';
import type { ModelConfig } from './config.js';

export interface LoadWeightsOptions {
  /** Dtype the weights are converted to (default float32). */
  dtype?: DType;
  device?: Device;
  /** Other names a parameter may be stored under (newer or older layouts), tried in order. */
  alternates?: (name: string) => string[];
  /** Checkpoint keys that are fine to leave unused (buffers such as rotary inv_freq). */
  ignoreUnused?: (key: string) => boolean;
}

export interface LoadWeightsResult {
  loaded: number;
  /** Checkpoint tensors no parameter used. */
  unused: string[];
}

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

function openFolder(dir: string): SafetensorsFolder {
  try {
    return SafetensorsFolder.open(dir);
  } catch (e) {
    const pickle = ['pytorch_model.bin', 'pytorch_model.bin.index.json'].some((f) => existsSync(join(dir, f)));
    throw new UserError(`${(e as Error).message}${pickle ? ' (pickle checkpoints are never loaded: convert pytorch_model.bin to safetensors)' : ''}`);
  }
}

/** The number of blocks `layers.N.` among the names (`pattern` captures N); 0 when none. */
function layerCount(names: readonly string[], pattern: RegExp): number {
  let n = 0;
  for (const name of names) {
    const m = pattern.exec(name);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

/**
 * Checks the sizes config.json gives against the tensors the folder's
 * safetensors headers describe, before the model is built: a config that asks
 * for more layers, a larger vocabulary or wider layers than the weights hold
 * is refused naming the field, instead of allocating first and comparing
 * shapes after (a million layers would exhaust memory before any check).
 */
export function checkConfigAgainstWeights(config: ModelConfig, dir: string): void {
  const folder = openFolder(dir);
  try {
    const llava = config.modelType === 'llava';
    const text = llava ? config.text : config;
    const where = `${join(dir, 'config.json')}${llava ? ' text_config' : ''}`;
    const fail = (at: string, msg: string): never => {
      throw new UserError(`${at}: ${msg}`);
    };
    const names = folder.names();
    const isVision = (n: string): boolean => /(^|\.)(vision_tower|multi_modal_projector)\./.test(n);
    const textNames = names.filter((n) => !isVision(n));
    const shape = (suffix: RegExp): [string, number[]] | null => {
      const n = textNames.find((x) => suffix.test(x));
      return n ? [n, folder.entry(n)?.shape ?? []] : null;
    };
    const embed = shape(/(^|\.)embed_tokens\.weight$/);
    if (embed && embed[1].length === 2) {
      if (embed[1][0] !== text.vocabSize) fail(where, `'vocab_size' is ${text.vocabSize} but ${embed[0]} has ${embed[1][0]} rows`);
      if (embed[1][1] !== text.hiddenSize) fail(where, `'hidden_size' is ${text.hiddenSize} but ${embed[0]} has width ${embed[1][1]}`);
    }
    const layers = layerCount(textNames, /(?:^|\.)layers\.(\d+)\./);
    if (layers > 0 && text.numHiddenLayers > layers) fail(where, `'num_hidden_layers' is ${text.numHiddenLayers} but the weights hold ${layers} layer${layers === 1 ? '' : 's'}`);
    const gate = shape(/(?:^|\.)layers\.0\.mlp\.gate_proj\.weight$/);
    if (gate && gate[1][0] !== text.intermediateSize) fail(where, `'intermediate_size' is ${text.intermediateSize} but ${gate[0]} has ${gate[1][0]} rows`);
    const q = shape(/(?:^|\.)layers\.0\.self_attn\.q_proj\.weight$/);
    if (q && q[1][0] !== text.numAttentionHeads * text.headDim) {
      fail(where, `'num_attention_heads' × 'head_dim' is ${text.numAttentionHeads} × ${text.headDim} but ${q[0]} has ${q[1][0]} rows`);
    }
    if (llava) {
      const v = config.vision;
      const vwhere = `${join(dir, 'config.json')} vision_config`;
      const vlayers = layerCount(names, /vision_tower\..*encoder\.layers\.(\d+)\./);
      if (vlayers > 0 && v.numHiddenLayers > vlayers) fail(vwhere, `'num_hidden_layers' is ${v.numHiddenLayers} but the weights hold ${vlayers} vision layers`);
      const posName = names.find((n) => /vision_tower\..*position_embedding\.weight$/.test(n));
      const pos = posName ? (folder.entry(posName)?.shape ?? []) : [];
      const want = (v.imageSize / v.patchSize) ** 2 + 1;
      if (posName && pos.length === 2 && (pos[0] !== want || pos[1] !== v.hiddenSize)) {
        fail(vwhere, `'image_size' / 'patch_size' / 'hidden_size' (${v.imageSize} / ${v.patchSize} / ${v.hiddenSize}) need position embeddings [${want}, ${v.hiddenSize}] but ${posName} is [${pos.join(', ')}]`);
      }
    }
  } finally {
    folder.close();
  }
}

/** Loads every parameter of `model` from the folder's safetensors, or throws naming each missing or misshapen tensor. */
export function loadWeights(model: Module, dir: string, o: LoadWeightsOptions = {}): LoadWeightsResult {
  const folder = openFolder(dir);
  try {
    const plan: Array<[string, string]> = [];
    const problems: string[] = [];
    for (const [name, t] of model.namedParameters()) {
      const ckptName = baseParameterName(name);
      if (ckptName === null) continue; // adapter weights live in the adapter folder
      const candidates = [ckptName, ...(o.alternates?.(ckptName) ?? [])];
      const found = candidates.find((c) => folder.has(c));
      if (!found) {
        problems.push(`missing tensor '${ckptName}' (expected shape ${shapeStr(t.shape)})`);
        continue;
      }
      const e = folder.entry(found);
      if (e && e.shape.join(',') !== t.shape.join(',')) {
        problems.push(`tensor '${found}' has shape ${shapeStr(e.shape)} but the config needs ${shapeStr(t.shape)}`);
        continue;
      }
      if (e && !['float32', 'float16', 'bfloat16', 'float64'].includes(e.dtype)) {
        problems.push(`tensor '${found}' has dtype ${e.dtype}; weights must be floating point`);
        continue;
      }
      plan.push([name, found]);
    }
    if (problems.length) {
      const shown = problems.slice(0, 12).join('; ');
      const more = problems.length > 12 ? `; and ${problems.length - 12} more` : '';
      throw new UserError(`${dir}: the checkpoint does not fit config.json: ${shown}${more}`);
    }
    const used = new Set(plan.map(([, k]) => k));
    noGrad(() => {
      for (const [name, key] of plan) model.setParameter(name, folder.read(key, { dtype: o.dtype ?? 'float32', device: o.device ?? 'cpu' }));
    });
    const unused = folder.names().filter((k) => !used.has(k) && !(o.ignoreUnused?.(k) ?? false));
    return { loaded: plan.length, unused };
  } finally {
    folder.close();
  }
}

/**
 * The tensors a plain checkpoint of `model` holds: parameter names with
 * PEFT's `base_layer.` removed and adapter weights left out, optionally renamed.
 */
export function checkpointTensors(model: Module, rename: (name: string) => string = (n) => n): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of model.namedParameters()) {
    const base = baseParameterName(name);
    if (base !== null) out.set(rename(base), t);
  }
  return out;
}

/** Writes model.safetensors (sharded past 2 GB) for the model's weights, optionally cast to a dtype. */
export function saveWeights(model: Module, dir: string, o: { dtype?: DType; rename?: (name: string) => string } = {}): void {
  const tensors = checkpointTensors(model, o.rename);
  const cast = new Map<string, Tensor>();
  const temps: Tensor[] = [];
  noGrad(() => {
    for (const [n, t] of tensors) {
      let c = t;
      if (t.device !== 'cpu' || (o.dtype && t.dtype !== o.dtype)) {
        c = t.to({ dtype: o.dtype ?? t.dtype, device: 'cpu' });
        temps.push(c);
      }
      cast.set(n, c);
    }
  });
  try {
    saveSafetensorsFolder(dir, cast, { maxShardBytes: 2 * 1024 ** 3 });
  } finally {
    for (const t of temps) t.dispose();
  }
}

export function hasWeights(dir: string): boolean {
  return existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json'));
}
