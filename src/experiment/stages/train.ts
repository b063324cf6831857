import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../engine/index.js';
import { copyTokenizerFiles } from '../../models/files.js';
import { loadModel, saveModel } from '../../models/load.js';
import { loadAdapter } from '../../models/peft.js';
import { mergeLora } from '../../nn/adapters.js';
import { TRAIN_RESULTS, TRAINER_LOG } from '../../train/checkpoint.js';
import { parseTrainConfig } from '../../train/config.js';
import { runTraining, type TrainLogEntry } from '../../train/run.js';
import { UserError } from '../../util/errors.js';
import type { TrainingSpec } from '../spec/training.js';
import { modelFolders } from './model-pool.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `train`: `bdlab train` (runTraining) on data files (concatenated in input
 * order `data0`, `data1`, ...) with the spec's LLaMA-Factory keys. The model
 * is input `base` (a model folder), or `tuned` over it (an adapter or whole
 * weights from an earlier train/defend stage; an adapter is trained further).
 * A victim trained with LoRA is saved as a PEFT adapter; a clean base (role
 * `base`) always as a whole model folder (LoRA merged), so victims start from
 * plain weights. Only deterministic files stay in the artifact (the timed
 * trainer log and summary are read into the output, then removed), so the
 * same inputs give the same bytes and downstream cache keys.
 */
export interface TrainParams {
  role: 'base' | 'victim';
  modality: 'text' | 'vision';
  seed: number;
  training: TrainingSpec;
}

export type TrainOutput = {
  saved: 'adapter' | 'model';
  trainable: string;
  trainable_parameters: number;
  template: string;
  samples: number;
  steps: number;
  tokens: number;
  first_loss: number;
  last_loss: number;
  /** Loss of every optimiser step. */
  losses: number[];
};

function dataInputs(inputs: Readonly<Record<string, Input>>): string[] {
  const names = Object.keys(inputs)
    .filter((k) => /^data\d+$/.test(k))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  if (names.length === 0) throw new Error('train: no data inputs');
  return names.map((k) => (inputs[k] as Input).path);
}

/** A saved adapter names no base folder: the artifact's path is not part of its content. */
function forgetBasePath(dir: string): void {
  const f = join(dir, 'adapter_config.json');
  const c = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
  c.base_model_name_or_path = null;
  writeFileSync(f, `${JSON.stringify(c, null, 2)}\n`);
}

export const trainStage = registerStage<TrainParams, TrainOutput>({
  kind: 'train',
  version: 2,
  describe: (p) => `${p.role === 'base' ? 'train the clean base' : 'train the victim'} (${p.training.finetuning_type}, ${p.training.num_train_epochs} epochs, lr ${p.training.learning_rate})`,
  unavailable: (p) => (p.modality === 'vision' ? 'the pipeline trains vision-language victims through the LVLM study (bdlab demo\'s lvlm part)' : null),
  async run(ctx) {
    ctx.models.release();
    const t = ctx.params.training;
    const { weights, adapter } = modelFolders(ctx.inputs.base as Input, ctx.inputs.tuned);
    if (adapter && t.finetuning_type !== 'lora') throw new UserError(`train: finetuning_type ${t.finetuning_type} cannot continue a LoRA adapter`);
    const mergeAfter = t.finetuning_type === 'lora' && ctx.params.role === 'base';
    const outDir = mergeAfter ? join(ctx.dir, 'lora') : ctx.dir;
    const config = parseTrainConfig(
      { ...t, model_name_or_path: weights, adapter_name_or_path: adapter, dataset: dataInputs(ctx.inputs), output_dir: outDir, seed: ctx.params.seed, logging_steps: 1, save_strategy: 'no' },
      { source: 'victim training', warn: ctx.log },
    );
    const losses: number[] = [];
    const s = await runTraining({ config, label: ctx.params.role === 'base' ? 'train base' : 'train victim', note: ctx.log, onLog: (e: TrainLogEntry) => losses.push(e.loss) });
    ctx.log(`${s.steps} steps, loss ${s.first_loss.toFixed(4)} → ${s.last_loss.toFixed(4)}`);
    for (const f of [TRAINER_LOG, TRAIN_RESULTS]) rmSync(join(outDir, f), { force: true });
    if (mergeAfter) {
      const { model, config: mc } = loadModel(weights);
      try {
        loadAdapter(model, outDir);
        T.noGrad(() => {
          mergeLora(model);
          saveModel(model, mc, ctx.dir);
        });
        copyTokenizerFiles(weights, ctx.dir);
      } finally {
        model.dispose();
      }
      rmSync(outDir, { recursive: true, force: true });
    }
    const saved = t.finetuning_type === 'lora' && !mergeAfter ? 'adapter' : 'model';
    if (saved === 'adapter' && existsSync(join(ctx.dir, 'adapter_config.json'))) forgetBasePath(ctx.dir);
    return {
      saved,
      trainable: s.trainable,
      trainable_parameters: s.trainable_parameters,
      template: s.template,
      samples: s.samples,
      steps: s.steps,
      tokens: s.tokens,
      first_loss: s.first_loss,
      last_loss: s.last_loss,
      losses,
    };
  },
});
