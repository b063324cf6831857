import { copyFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../engine/index.js';
import { loadModel, saveModel } from '../../models/load.js';
import { loadAdapter, saveAdapter } from '../../models/peft.js';
import { TextTokenizer } from '../../models/tokenizer.js';
import { textConfig } from '../../models/config.js';
import { applyLora, defaultTargetModules, mergeLora } from '../../nn/adapters.js';
import { applyFreeze } from '../../nn/freeze.js';
import { trainInstructions } from '../../train/trainer.js';
import { UserError } from '../../util/errors.js';
import type { TrainingSpec } from '../spec/training.js';
import { modelFolders } from './model-pool.js';
import { readSamples } from './records.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `train`: instruction tuning of a model on data files (concatenated in input
 * order `data0`, `data1`, ...), with the spec's LLaMA-Factory keys. The model
 * is input `base` (a model folder), or `tuned` over it (an adapter or whole
 * weights from an earlier train/defend stage; an adapter is trained further,
 * as CROW continues the backdoor's adapter). A victim trained with LoRA is saved
 * as a PEFT adapter; a clean base (role `base`) always as a whole model folder
 * (LoRA merged), so victims start from plain weights.
 */
export interface TrainParams {
  role: 'base' | 'victim';
  modality: 'text' | 'vision';
  seed: number;
  training: TrainingSpec;
}

export type TrainOutput = {
  saved: 'adapter' | 'model';
  samples: number;
  steps: number;
  tokens: number;
  first_loss: number;
  last_loss: number;
  losses: number[];
};

/** Files of a model folder that describe the tokenizer and generation, copied beside new weights. */
const AUX_FILE = /^(tokenizer.*|special_tokens_map\.json|generation_config\.json|preprocessor_config\.json|chat_template\.(json|jinja)|added_tokens\.json|vocab\.json|merges\.txt|.*\.model)$/;

export function copyAuxFiles(from: string, to: string): void {
  for (const f of readdirSync(from)) if (AUX_FILE.test(f) && statSync(join(from, f)).isFile()) copyFileSync(join(from, f), join(to, f));
}

function dataInputs(inputs: Readonly<Record<string, Input>>): Input[] {
  const names = Object.keys(inputs)
    .filter((k) => /^data\d+$/.test(k))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  if (names.length === 0) throw new Error('train: no data inputs');
  return names.map((k) => inputs[k] as Input);
}

function targets(spec: TrainingSpec['lora_target'], model: Parameters<typeof defaultTargetModules>[0]): string | string[] {
  if (spec === 'all') return defaultTargetModules(model);
  return Array.isArray(spec) ? spec : spec.split(',').map((s) => s.trim());
}

export const trainStage = registerStage<TrainParams, TrainOutput>({
  kind: 'train',
  version: 1,
  describe: (p) => `${p.role === 'base' ? 'train the clean base' : 'train the victim'} (${p.training.finetuning_type}, ${p.training.num_train_epochs} epochs, lr ${p.training.learning_rate})`,
  unavailable: (p) => (p.modality === 'vision' ? 'training a vision-language victim on LLaVA data needs `bdlab train` with LLaVA datasets' : null),
  async run(ctx) {
    ctx.models.release();
    const t = ctx.params.training;
    const { weights, adapter } = modelFolders(ctx.inputs.base as Input, ctx.inputs.tuned);
    let samples = dataInputs(ctx.inputs).flatMap((d) => readSamples(d.path));
    if (t.max_samples !== undefined) samples = samples.slice(0, t.max_samples);
    if (samples.length === 0) throw new UserError('train: the training set is empty');
    const { model, config } = loadModel(weights);
    try {
      const tok = TextTokenizer.load(weights);
      if (adapter) loadAdapter(model, adapter);
      if (t.finetuning_type === 'lora') {
        if (!adapter) {
          applyLora(model, { r: t.lora_rank, alpha: t.lora_alpha ?? 2 * t.lora_rank, dropout: t.lora_dropout, targetModules: targets(t.lora_target, model), seed: ctx.params.seed });
        }
        applyFreeze(model, 'adapters');
      } else {
        if (adapter) throw new UserError(`train: finetuning_type ${t.finetuning_type} cannot continue a LoRA adapter`);
        applyFreeze(model, t.finetuning_type === 'full' ? 'full' : 'projector');
      }
      const r = trainInstructions(model, tok, samples, {
        epochs: t.num_train_epochs,
        lr: t.learning_rate,
        batchSize: t.per_device_train_batch_size,
        gradAccum: t.gradient_accumulation_steps,
        schedule: t.lr_scheduler_type,
        warmupRatio: t.warmup_ratio,
        weightDecay: t.weight_decay,
        maxGradNorm: t.max_grad_norm,
        maxLength: Math.min(t.cutoff_len, textConfig(config).maxPositionEmbeddings),
        seed: ctx.params.seed,
        label: ctx.params.role === 'base' ? 'train base' : 'train victim',
      });
      ctx.log(`${r.steps} steps, loss ${r.firstLoss.toFixed(4)} → ${r.lastLoss.toFixed(4)}`);
      const asAdapter = t.finetuning_type === 'lora' && ctx.params.role === 'victim';
      T.noGrad(() => {
        if (asAdapter) {
          saveAdapter(model, ctx.dir, { modulesToSave: null, baseModelNameOrPath: null });
        } else {
          if (t.finetuning_type === 'lora') mergeLora(model);
          saveModel(model, config, ctx.dir);
          copyAuxFiles(weights, ctx.dir);
        }
      });
      return {
        saved: asAdapter ? 'adapter' : 'model',
        samples: samples.length,
        steps: r.steps,
        tokens: r.tokens,
        first_loss: r.firstLoss,
        last_loss: r.lastLoss,
        losses: r.losses,
      };
    } finally {
      model.dispose();
    }
  },
});
