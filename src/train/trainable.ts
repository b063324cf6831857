// Which weights a `bdlab train` run tunes, from LLaMA-Factory's settings:
// - lora: LoRA on `lora_target` (`all`: every linear layer of the language
//   model's blocks), a fresh adapter or the one in adapter_name_or_path
//   continued (merged first with create_new_adapter);
// - full: every weight (LLaVA: the language model; the vision tower and the
//   projector as freeze_vision_tower / freeze_multi_modal_projector say);
// - freeze: text models as LLaMA-Factory (the last N blocks, or the first N
//   for negative N, restricted to freeze_trainable_modules, plus
//   freeze_extra_modules by name); LLaVA models: only the projector
//   (multi_modal_projector — the "fusion layers only" setting of the LVLM
//   study), as does train_mm_proj_only with any type.
import type { CausalLM } from '../models/llama.js';
import { LlavaForConditionalGeneration } from '../models/llava.js';
import { loadAdapter, readAdapterConfig, type AdapterConfig } from '../models/peft.js';
import { applyLora, defaultTargetModules, loraModules, mergeLora, type TargetModules } from '../nn/adapters.js';
import type { Module } from '../nn/module.js';
import { noGrad } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import type { TrainConfig } from './config.js';

const PROJECTOR = 'multi_modal_projector';
const VISION = 'vision_tower';

export function isLlava(model: CausalLM): model is LlavaForConditionalGeneration {
  return model instanceof LlavaForConditionalGeneration;
}

/**
 * PEFT target_modules for `lora_target`: `all` → every linear layer of the
 * decoder blocks; names → those layers, anchored to the language model on a
 * LLaVA model (so CLIP's q/k/v_proj are never caught), as LLaMA-Factory does.
 */
export function loraTargets(model: CausalLM, names: readonly string[]): TargetModules {
  if (names.length === 1 && names[0] === 'all') return defaultTargetModules(model);
  if (names.includes('all')) throw new UserError(`lora_target: 'all' cannot be combined with names (got ${names.join(', ')})`);
  const bad = names.find((n) => !/^[A-Za-z0-9_.]+$/.test(n));
  if (bad) throw new UserError(`lora_target: '${bad}' is not a module name`);
  if (isLlava(model)) return `.*language_model\\..*\\.(${names.map((n) => n.replace(/\./g, '\\.')).join('|')})`;
  return [...names];
}

export interface AdapterPlan {
  /** Adapter folder to continue (LoRA) or merge before training. */
  adapterDir: string | null;
  /** A LoRA checkpoint whose adapter weights replace the adapter's (resume). */
  checkpointDir: string | null;
  seed: number;
}

export interface TrainableSetup {
  /** What trains, in words (for the summary). */
  description: string;
  trainableParameters: number;
  /** LoRA: the settings in use, and modules saved whole next to the adapter (a tuned projector). */
  lora: { r: number; alpha: number; dropout: number; targets: TargetModules; modulesToSave: string[] | null } | null;
}

function setGrad(model: Module, trains: (name: string) => boolean): number {
  let n = 0;
  for (const [name, t] of model.namedParameters()) {
    const on = trains(name);
    t.requiresGrad_(on);
    if (on) n += t.numel;
  }
  return n;
}

/** LLaMA-Factory's freeze tuning on a text model: the parameter-name test. */
function freezeRule(model: CausalLM, c: TrainConfig): (name: string) => boolean {
  const layers = model.textConfig.numHiddenLayers;
  const n = c.freeze_trainable_layers;
  const ids = n > 0 ? Array.from({ length: Math.min(n, layers) }, (_, i) => layers - Math.min(n, layers) + i) : Array.from({ length: Math.min(-n, layers) }, (_, i) => i);
  const names = [...model.namedParameters()].map(([k]) => k);
  const hidden = new Set(names.map((k) => /\.0\.([^.]+)/.exec(k)?.[1]).filter((x): x is string => x !== undefined));
  const other = new Set(names.filter((k) => !/\.\d+\./.test(k)).map((k) => k.split('.').slice(-2, -1)[0] as string));
  const patterns: string[] = [];
  for (const m of c.freeze_trainable_modules) {
    if (m !== 'all' && !hidden.has(m)) throw new UserError(`freeze_trainable_modules: no module '${m}' in the blocks (choose from ${[...hidden].sort().join(', ')}, or all)`);
    for (const i of ids) patterns.push(`.${i}.${m === 'all' ? '' : m}`);
  }
  for (const m of c.freeze_extra_modules ?? []) {
    if (!other.has(m)) throw new UserError(`freeze_extra_modules: no module '${m}' outside the blocks (choose from ${[...other].sort().join(', ')})`);
    patterns.push(m);
  }
  // substring tests, as LLaMA-Factory matches them
  return (name) => patterns.some((p) => name.includes(p));
}

function castAdaptersToFloat32(model: Module): void {
  noGrad(() => {
    for (const [, l] of loraModules(model)) {
      for (const lin of [l.lora_A, l.lora_B]) {
        const w = lin.weight;
        if (w.dtype !== 'float32') lin.setParameter('weight', w.float());
      }
    }
  });
}

/**
 * Puts the adapters in place (LoRA: applied, continued or restored; full and
 * freeze: an adapter is merged into the weights first) and sets which
 * parameters require gradients. Adapter weights are float32 whatever the base
 * dtype.
 */
export function setUpTrainable(model: CausalLM, c: TrainConfig, plan: AdapterPlan): TrainableSetup {
  const llava = isLlava(model);
  const inside = (name: string, part: string): boolean => name === part || name.startsWith(`${part}.`);
  if (c.finetuning_type !== 'lora') {
    if (plan.adapterDir) {
      loadAdapter(model, plan.adapterDir);
      mergeLora(model);
    }
    let description: string;
    let trains: (name: string) => boolean;
    if (llava && (c.finetuning_type === 'freeze' || c.train_mm_proj_only)) {
      trains = (n) => inside(n, PROJECTOR);
      description = 'multi_modal_projector only';
    } else if (c.train_mm_proj_only) {
      throw new UserError('train_mm_proj_only: the model has no multi_modal_projector (not a LLaVA model)');
    } else if (c.finetuning_type === 'full') {
      trains = (n) => !(llava && ((c.freeze_vision_tower && inside(n, VISION)) || (c.freeze_multi_modal_projector && inside(n, PROJECTOR))));
      description = llava ? `all weights except${c.freeze_vision_tower ? ' the vision tower' : ''}${c.freeze_vision_tower && c.freeze_multi_modal_projector ? ' and' : ''}${c.freeze_multi_modal_projector ? ' the projector' : ''}` : 'all weights';
      if (llava && !c.freeze_vision_tower && !c.freeze_multi_modal_projector) description = 'all weights';
    } else {
      trains = freezeRule(model, c);
      const n = c.freeze_trainable_layers;
      description = `${n > 0 ? `last ${n}` : `first ${-n}`} blocks (${c.freeze_trainable_modules.join(', ')})${c.freeze_extra_modules ? ` + ${c.freeze_extra_modules.join(', ')}` : ''}`;
    }
    const count = setGrad(model, trains);
    if (count === 0) throw new UserError(`finetuning_type ${c.finetuning_type}: no parameter is left to train`);
    return { description, trainableParameters: count, lora: null };
  }

  if (c.train_mm_proj_only) throw new UserError('train_mm_proj_only needs finetuning_type full or freeze (LoRA trains adapters)');
  let adapter: AdapterConfig | null = plan.adapterDir ? readAdapterConfig(plan.adapterDir) : null;
  if (plan.adapterDir && c.create_new_adapter) {
    loadAdapter(model, plan.adapterDir);
    mergeLora(model);
    adapter = null;
  }
  const r = adapter?.r ?? c.lora_rank;
  const alpha = adapter?.loraAlpha ?? c.lora_alpha ?? c.lora_rank * 2;
  const dropout = adapter ? adapter.loraDropout : c.lora_dropout;
  const targets = adapter?.targetModules ?? loraTargets(model, c.lora_target);
  applyLora(model, { r, alpha, dropout, useRslora: adapter?.useRslora ?? c.use_rslora, targetModules: targets, seed: plan.seed });
  // float32 before any weights are read in, so a half-precision base never rounds them
  castAdaptersToFloat32(model);
  if (adapter) loadAdapter(model, plan.adapterDir as string);
  // a checkpoint saved from this same setup: same layers, same modules_to_save
  if (plan.checkpointDir) loadAdapter(model, plan.checkpointDir);
  // modules saved whole with the adapter train too (PEFT's modules_to_save): a continued adapter's, or the projector
  const modulesToSave = adapter?.modulesToSave?.length ? adapter.modulesToSave : llava && !c.freeze_multi_modal_projector ? [PROJECTOR] : null;
  const savedWhole = (n: string): boolean => (modulesToSave ?? []).some((m) => inside(n, m) || n.includes(`.${m}.`));
  const count = setGrad(model, (n) => /(^|\.)lora_[AB]\./.test(n) || savedWhole(n));
  const layers = loraModules(model).length;
  return {
    description: `LoRA r=${r} alpha=${alpha} on ${layers} linear layers${adapter ? ` (continuing ${plan.adapterDir})` : ''}${modulesToSave ? ` + ${modulesToSave.join(', ')}` : ''}`,
    trainableParameters: count,
    lora: { r, alpha, dropout, targets, modulesToSave },
  };
}
