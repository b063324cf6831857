// Fine-tuning for the defenses that train (crow, finetune, fineprune): the
// LoRA set-up (continue the backdoor's adapter, as CROW's published code does,
// or a new one), the library trainer with the defense's objective, and the
// choice of epoch on the clean validation split.
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { resolve } from 'node:path';
import { saveAdapter } from '../models/peft.js';
import { applyLora, loraModules, mergeLora } from '../nn/adapters.js';
import { applyFreeze } from '../nn/freeze.js';
import { num, str } from '../attacks/params.js';
import type { InstructionSample } from '../train/prompt.js';
import { collate, encodeExample, type Batch, type EncodedExample } from '../train/sft.js';
import { trainInstructions, sftObjective, type Objective, type TrainOptions } from '../train/trainer.js';
import { UserError } from '../util/errors.js';
import { loadVictim, readCleanData, saveModelFolder, splitValidation, validationLoss } from './common.js';
import type { DefenseInput, DefenseOutcome, ParamSpec, Params } from './types.js';

/** CROW's published training recipe (configs/consistency/*.yaml), shared by the training baselines. */
export const TRAIN_PARAMS: ParamSpec[] = [
  { name: 'lr', type: 'number', default: 1e-3, min: 0, doc: 'peak learning rate (learning_rate)' },
  { name: 'epochs', type: 'int', default: 5, min: 1, doc: 'training epochs (num_train_epochs)' },
  { name: 'batch_size', type: 'int', default: 2, min: 1, doc: 'samples per micro-batch (per_device_train_batch_size)' },
  { name: 'grad_accum', type: 'int', default: 4, min: 1, doc: 'micro-batches per optimiser step (gradient_accumulation_steps); every answer token weighs the same' },
  { name: 'schedule', type: 'enum', default: 'cosine', choices: ['cosine', 'linear', 'constant'], doc: 'learning-rate schedule after warm-up (lr_scheduler_type)' },
  { name: 'warmup_ratio', type: 'number', default: 0.1, min: 0, max: 1, doc: 'share of steps spent warming up' },
  { name: 'max_length', type: 'int', default: 1024, min: 8, doc: 'tokens per sample, answers cut first (cutoff_len)' },
  { name: 'max_grad_norm', type: 'number', default: 1, min: 0, doc: 'gradient clipping norm (0 = none)' },
  { name: 'lora_r', type: 'int', default: 8, min: 1, doc: 'rank of a new LoRA adapter (lora_rank)' },
  { name: 'lora_alpha', type: 'number', default: 16, min: 0, doc: 'alpha of a new LoRA adapter' },
  { name: 'lora_dropout', type: 'number', default: 0, min: 0, max: 0.99, doc: 'dropout of a new LoRA adapter' },
  {
    name: 'adapter',
    type: 'enum',
    default: 'continue',
    choices: ['continue', 'new'],
    doc: "with --adapter: train the backdoor's own adapter further (as CROW's code does; writes an adapter) or merge it and train a new one (writes a model folder)",
  },
  { name: 'validation', type: 'number', default: 0.1, min: 0, max: 0.5, doc: 'share of the clean records held out (seeded): clean loss before and after, the validation objective after every epoch, and the epoch with select=best (0 = train on all)' },
  {
    name: 'select',
    type: 'enum',
    default: 'last',
    choices: ['last', 'best'],
    doc: "which epoch's weights are kept: last = after the final epoch (the published recipe), best = the epoch with the lowest validation objective (the defense's own training loss on the held-out records; early stopping)",
  },
];

export interface TuneParams {
  train: Omit<TrainOptions, 'seed' | 'objective' | 'onStep' | 'label'>;
  lora: { r: number; alpha: number; dropout: number };
  continueAdapter: boolean;
  validation: number;
  select: 'best' | 'last';
}

export function tuneParams(p: Params): TuneParams {
  const validation = num(p, 'validation');
  const select = str(p, 'select') as 'best' | 'last';
  if (select === 'best' && validation === 0) throw new UserError('select=best needs validation data: give validation > 0 or select=last');
  return {
    train: {
      epochs: num(p, 'epochs'),
      lr: num(p, 'lr'),
      batchSize: num(p, 'batch_size'),
      gradAccum: num(p, 'grad_accum'),
      schedule: str(p, 'schedule') as T.optim.ScheduleKind,
      warmupRatio: num(p, 'warmup_ratio'),
      weightDecay: 0,
      maxGradNorm: num(p, 'max_grad_norm'),
      maxLength: num(p, 'max_length'),
    },
    lora: { r: num(p, 'lora_r'), alpha: num(p, 'lora_alpha'), dropout: num(p, 'lora_dropout') },
    continueAdapter: str(p, 'adapter') === 'continue',
    validation,
    select,
  };
}

/**
 * Makes the model's LoRA weights the only trainable parameters: the loaded
 * backdoor adapter when continuing, else a new adapter on every decoder
 * linear layer (LLaMA-Factory's lora_target: all).
 */
export function prepareLora(model: CausalLM, hasAdapter: boolean, t: TuneParams, seed: number): 'continued' | 'new' {
  if (!hasAdapter || !t.continueAdapter || loraModules(model).length === 0) {
    applyLora(model, { r: t.lora.r, alpha: t.lora.alpha, dropout: t.lora.dropout, seed });
    applyFreeze(model, 'adapters');
    return 'new';
  }
  applyFreeze(model, 'adapters');
  return 'continued';
}

/** One value of a batch (a loss), with its weight (answer tokens). */
export type BatchValue = (model: CausalLM, batch: Batch) => { value: number; weight: number };

/** The plain LM loss on a batch, without gradients. */
export const lmValue: BatchValue = (model, batch) =>
  T.noGrad(() => {
    const r = sftObjective(model, batch);
    return { value: r.loss.item(), weight: r.weight };
  });

/** The token-weighted mean of `value` over records, in batches, in evaluation mode. */
export function meanValue(model: CausalLM, tok: TextTokenizer, samples: readonly InstructionSample[], value: BatchValue, maxLength: number, batchSize: number): number | null {
  if (samples.length === 0) return null;
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const enc: EncodedExample[] = samples.map((s) => encodeExample(tok, s, maxLength));
  const was = model.training;
  model.train(false);
  let sum = 0;
  let weight = 0;
  try {
    for (let i = 0; i < enc.length; i += batchSize) {
      const r = T.scope(() => value(model, collate(enc.slice(i, i + batchSize), pad)));
      sum += r.value * r.weight;
      weight += r.weight;
    }
  } finally {
    model.train(was);
  }
  return weight > 0 ? sum / weight : null;
}

export interface EpochLog {
  epoch: number;
  /** Mean training objective over the epoch's steps. */
  train_loss: number;
  /** The validation objective after the epoch (null without validation data). */
  validation: number | null;
  /** The objective's own figures over the epoch, token-weighted (CROW: lm_loss, consistency, perturbed_consistency). */
  metrics?: Record<string, number>;
}

export interface TuneResult {
  steps: number;
  tokens: number;
  epochs: EpochLog[];
  /** The validation objective before training. */
  validationBefore: number | null;
  /** The epoch whose weights were kept (1-based). */
  chosenEpoch: number;
}

/**
 * Trains the model's trainable parameters on `train` with `objective`
 * (default: the SFT loss), evaluating `value` on `validation` after every
 * epoch; with select=best the weights of the epoch with the lowest value are
 * restored at the end.
 */
export function tune(
  model: CausalLM,
  tok: TextTokenizer,
  train: readonly InstructionSample[],
  validation: readonly InstructionSample[],
  t: TuneParams,
  o: { objective?: Objective; value: BatchValue; seed: number; label: string },
): TuneResult {
  const params = model.trainableParameters();
  const evalBatch = Math.max(1, t.train.batchSize);
  const valueNow = (): number | null => meanValue(model, tok, validation, o.value, t.train.maxLength, evalBatch);
  const validationBefore = valueNow();
  const stepsPerEpoch = Math.ceil(Math.ceil(train.length / t.train.batchSize) / t.train.gradAccum);
  const epochs: EpochLog[] = [];
  let best: { value: number; epoch: number; weights: T.Tensor[] } | null = null;
  let epochLoss = 0;
  let epochSteps = 0;
  let sums: Record<string, number> = {};
  let weights = 0;
  const inner = o.objective;
  const objective: Objective | undefined = inner
    ? (m, batch) => {
        const r = inner(m, batch);
        for (const [k, v] of Object.entries(r.metrics ?? {})) sums[k] = (sums[k] ?? 0) + v * r.weight;
        if (r.metrics) weights += r.weight;
        return r;
      }
    : undefined;
  try {
    const res = trainInstructions(model, tok, train, {
      ...t.train,
      seed: o.seed,
      objective,
      label: o.label,
      onStep: (info) => {
        epochLoss += info.loss;
        epochSteps++;
        if (info.step % stepsPerEpoch !== 0) return;
        const v = valueNow();
        const metrics = weights > 0 ? Object.fromEntries(Object.entries(sums).map(([k, x]) => [k, x / weights])) : undefined;
        epochs.push({ epoch: info.epoch + 1, train_loss: epochLoss / epochSteps, validation: v, ...(metrics ? { metrics } : {}) });
        epochLoss = 0;
        epochSteps = 0;
        sums = {};
        weights = 0;
        if (t.select === 'best' && v !== null && (best === null || v < best.value)) {
          for (const w of best?.weights ?? []) w.dispose();
          best = { value: v, epoch: info.epoch + 1, weights: T.noGrad(() => params.map((p) => T.keep(p.detach().clone()))) };
        }
      },
    });
    let chosenEpoch = t.train.epochs;
    const kept = best as { value: number; epoch: number; weights: T.Tensor[] } | null;
    if (kept) {
      chosenEpoch = kept.epoch;
      T.noGrad(() => params.forEach((p, i) => p.copy_(kept.weights[i] as T.Tensor)));
    }
    return { steps: res.steps, tokens: res.tokens, epochs, validationBefore, chosenEpoch };
  } finally {
    for (const w of (best as { weights: T.Tensor[] } | null)?.weights ?? []) w.dispose();
  }
}

export interface TrainingDefense {
  label: string;
  /** The training objective (default: the SFT loss). */
  objective?: Objective;
  /** The validation objective (the same loss, without gradients to the weights). */
  value: BatchValue;
  /** What the defense adds to `chosen` (its fixed hyper-parameters). */
  fixed?: Record<string, unknown>;
}

/**
 * A defense that fine-tunes on the clean records: split, load, LoRA, train,
 * choose the epoch, write the adapter (or, with a merged backdoor adapter, the
 * whole model), and report.
 */
export async function runTrainingDefense(input: DefenseInput, p: Params, d: TrainingDefense): Promise<DefenseOutcome> {
  const t = tuneParams(p);
  const data = await readCleanData(input.data);
  const split = splitValidation(data.samples, t.validation, input.seed);
  const continueAdapter = Boolean(input.adapter) && t.continueAdapter;
  const v = await loadVictim(input, { mergeAdapter: !continueAdapter });
  try {
    T.manualSeed(input.seed); // LoRA dropout
    const how = prepareLora(v.model, continueAdapter, t, input.seed);
    const lossBefore = await validationLoss(v.model, v.tok, split.validation, t.train.maxLength);
    const r = tune(v.model, v.tok, split.train, split.validation, t, { objective: d.objective, value: d.value, seed: input.seed, label: d.label });
    const lossAfter = await validationLoss(v.model, v.tok, split.validation, t.train.maxLength);
    const kind = v.merged ? 'model' : 'adapter';
    if (kind === 'adapter') {
      T.noGrad(() => saveAdapter(v.model, input.out, { modulesToSave: v.adapter?.modulesToSave ?? null, baseModelNameOrPath: resolve(input.model) }));
    } else {
      mergeLora(v.model);
      await saveModelFolder(v, input.model, input.out);
    }
    const notes: string[] = [];
    if (v.merged) notes.push("the backdoor adapter was merged into the weights and a new adapter trained (adapter=new): the output is a whole model folder");
    return {
      kind,
      chosen: {
        ...(d.fixed ?? {}),
        epoch: r.chosenEpoch,
        epoch_rule: t.select === 'best' ? 'the epoch with the lowest validation objective' : 'the last epoch',
        adapter: how,
      },
      validation: {
        records: split.validation.length,
        loss_before: lossBefore,
        loss_after: lossAfter,
        objective_before: r.validationBefore,
        epochs: r.epochs,
      },
      cost: { steps: r.steps, tokens: r.tokens },
      data: { samples: data.samples.length, train: split.train.length, validation: split.validation.length, sha256: data.sha256 },
      notes,
    };
  } finally {
    v.model.dispose();
  }
}
