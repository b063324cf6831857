// The victim's instruction tuning: the clean base, made trainable per the
// study's fine-tuning mode — `projector` (only the cross-modal projector, as
// in the domain-shift study), `lora` (LoRA on the decoder's linear layers) or
// `full` — tuned on the poisoned set of the attacker's domain. Only the
// tuned tensors are stored (`trained.safetensors`, by parameter name); a
// victim is the base with them laid over it.
import { join } from 'node:path';
import * as T from '../../engine/index.js';
import { loadModel } from '../../models/load.js';
import type { LlavaForConditionalGeneration } from '../../models/llava.js';
import { readImageProcessorConfig, type ImageProcessorConfig } from '../../models/image-processor.js';
import { TextTokenizer } from '../../models/tokenizer.js';
import { applyLora, defaultTargetModules } from '../../nn/adapters.js';
import { applyFreeze } from '../../nn/freeze.js';
import type { Finetuning, TrainSpec } from './config.js';
import { pixelValuesOf, readLlava } from './examples.js';
import { encodeImageExample, trainLlava, type LlavaTrainResult } from './llava-train.js';

export const TRAINED_FILE = 'trained.safetensors';

export interface LoadedVictim {
  model: LlavaForConditionalGeneration;
  tok: TextTokenizer;
  cfg: ImageProcessorConfig;
}

export interface LoraSpec {
  lora_rank: number;
  lora_alpha: number;
}

/** The decoder's attention projections: where text positions read the image tokens. */
const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];

/**
 * The base model, trainable per the fine-tuning mode: `projector` (the
 * projector alone), `projector+attention` (the projector and LoRA on the
 * decoder's attention, the parts a decoder-only LVLM fuses image and text
 * with), `lora` (the projector and LoRA on every decoder linear, as LLaVA's
 * LoRA recipe) or `full`.
 */
export function loadTrainable(baseDir: string, mode: Finetuning, lora: LoraSpec, seed: number): LoadedVictim {
  const { model } = loadModel(baseDir);
  const m = model as LlavaForConditionalGeneration;
  if (mode === 'lora' || mode === 'projector+attention') {
    const targets = mode === 'lora' ? defaultTargetModules(m) : `.*language_model\\..*\\.(${ATTENTION.join('|')})`;
    applyLora(m, { r: lora.lora_rank, alpha: lora.lora_alpha, seed, targetModules: targets });
    applyFreeze(m, 'adapters+projector');
  } else applyFreeze(m, mode === 'projector' ? 'projector' : 'full');
  return { model: m, tok: TextTokenizer.load(baseDir), cfg: readImageProcessorConfig(baseDir, m.config.vision.imageSize) };
}

/** Tunes the base on a LLaVA file and writes the tuned tensors to `dir`. */
export async function tuneVictim(
  baseDir: string,
  data: { file: string; imageRoot: string },
  mode: Finetuning,
  spec: TrainSpec & LoraSpec,
  seed: number,
  dir: string,
  label: string,
): Promise<LlavaTrainResult & { trained_parameters: number }> {
  const v = loadTrainable(baseDir, mode, spec, seed);
  try {
    const records = readLlava(data.file, data.imageRoot);
    const pixels = await pixelValuesOf(records.map((r) => r.image), v.cfg);
    try {
      const examples = records.map((r, i) => encodeImageExample(v.tok, v.model, r.instruction, r.output, i));
      const r = trainLlava(v.model, v.tok, examples, pixels, { epochs: spec.epochs, lr: spec.lr, batchSize: spec.batch_size, schedule: 'cosine', warmupRatio: spec.warmup_ratio, weightDecay: 0, maxGradNorm: 1, seed, label });
      const trained = new Map<string, T.Tensor>();
      for (const [name, p] of v.model.namedParameters()) if (p.requiresGrad) trained.set(name, p);
      T.saveSafetensors(join(dir, TRAINED_FILE), trained);
      return { ...r, trained_parameters: [...trained.values()].reduce((a, t) => a + t.numel, 0) };
    } finally {
      pixels.dispose();
    }
  } finally {
    v.model.dispose();
  }
}

/** The base with a victim's tuned tensors laid over it (every name and shape checked). */
export function loadVictim(baseDir: string, victimDir: string, mode: Finetuning, lora: LoraSpec, seed: number): LoadedVictim {
  const v = loadTrainable(baseDir, mode, lora, seed);
  const tuned = T.loadSafetensors(join(victimDir, TRAINED_FILE));
  try {
    const params = new Map(v.model.namedParameters());
    T.noGrad(() => {
      for (const [name, t] of tuned) {
        const p = params.get(name);
        if (!p) throw new Error(`${victimDir}/${TRAINED_FILE}: tensor ${name} is not a parameter of the victim`);
        if (p.shape.join(',') !== t.shape.join(',')) throw new Error(`${victimDir}/${TRAINED_FILE}: ${name} has shape [${t.shape}], the model [${p.shape}]`);
        p.copy_(t);
      }
    });
  } finally {
    for (const t of tuned.values()) t.dispose();
  }
  for (const p of v.model.parameters()) p.requiresGrad_(false);
  return v;
}
