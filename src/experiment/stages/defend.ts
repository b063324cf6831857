import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { modelFolders } from './model-pool.js';
import { registerStage } from './registry.js';
import type { Input, Json } from './types.js';

/**
 * `defend`: a defense of the registry (src/defenses, as `bdlab defend NAME`),
 * by name with its parameters, on a victim (input `base` plus `tuned`: the
 * backdoor's adapter or whole weights) with the defender's clean samples
 * (input `clean`). The artifact is what the defense wrote — a PEFT adapter for
 * the base model, or a whole model folder — and the output holds its record
 * (what it chose on its validation split, its cost, its notes); the timed and
 * path-bearing files (defense.json, the training log) are read and removed so
 * the same inputs give the same bytes.
 */
export interface DefendParams {
  name: string;
  /** The spec's parameters as strings (weight defenses: `--param key=value`; training defenses: `bdlab train` keys). */
  params: Record<string, string>;
  seed: number;
  modality: 'text' | 'vision';
}

export type DefendOutput = {
  saved: 'adapter' | 'model';
  defense: string;
  chosen: Json;
  validation: Json;
  cost: { clean_samples: number; steps: number; tokens: number };
  notes: string[];
};

export const defendStage = registerStage<DefendParams, DefendOutput>({
  kind: 'defend',
  version: 1,
  describe: (p) => `defend the victim with ${p.name}${Object.keys(p.params).length ? ` (${Object.entries(p.params).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
  unavailable: (p) => (p.modality === 'vision' ? 'the defenses act on language models (a vision-language victim\'s language model is not split out here)' : null),
  async run(ctx) {
    ctx.models.release();
    const { defenseDef, runDefense, RECORD_FILE } = await import('../../defenses/index.js');
    defenseDef(ctx.params.name); // an unknown name: one line naming the known ones
    const base = ctx.inputs.base as Input;
    const { weights, adapter } = modelFolders(base, ctx.inputs.tuned);
    const clean = ctx.inputs.clean;
    if (!clean) throw new UserError(`defend ${ctx.params.name}: the defender has no clean samples; give data.defense (or use a world that brings them)`);
    const rec = await runDefense(ctx.params.name, { model: weights, adapter: adapter ?? undefined, data: clean.path, out: ctx.dir, seed: ctx.params.seed }, ctx.params.params, {});
    if (rec.output.kind === 'adapter' && weights !== base.path) {
      throw new UserError(`defend ${ctx.params.name}: it wrote an adapter over the victim's whole weights; train the victim with LoRA (victim.training.finetuning_type: lora)`);
    }
    // keep only what decides the weights: the record (times, absolute paths) and the training log go into the output or away
    rmSync(join(ctx.dir, RECORD_FILE), { force: true });
    rmSync(join(ctx.dir, 'training'), { recursive: true, force: true });
    const cfg = join(ctx.dir, 'adapter_config.json');
    if (rec.output.kind === 'adapter' && existsSync(cfg)) {
      const c = JSON.parse(readFileSync(cfg, 'utf8')) as Record<string, unknown>;
      c.base_model_name_or_path = null;
      writeFileSync(cfg, `${JSON.stringify(c, null, 2)}\n`);
    }
    ctx.log(`${rec.defense}: ${rec.cost.steps} steps on ${rec.cost.clean_samples} clean samples; chose ${JSON.stringify(rec.chosen)}`);
    return {
      saved: rec.output.kind,
      defense: rec.defense,
      chosen: rec.chosen as Json,
      validation: rec.validation as Json,
      cost: { clean_samples: rec.cost.clean_samples, steps: rec.cost.steps, tokens: rec.cost.tokens },
      notes: rec.notes,
    };
  },
});
