// Fine-tuning for the defenses that train (crow, finetune, fineprune), through
// `bdlab train`'s runTraining: LLaMA-Factory's keys (a CONFIG.yaml or flags;
// the flag form starts from CROW's published recipe), a seeded validation
// split of the clean records, checkpoints and --resume, and the choice of
// epoch on the validation split.
//
// Layout of the defense folder DIR (output_dir):
//   DIR/data/train.json, DIR/data/validation.json   the split (Alpaca records)
//   DIR/training/                                    runTraining's output_dir: trainer_log.jsonl,
//                                                    checkpoint-<step>/, train_results.json
//   DIR/adapter_config.json + adapter_model.safetensors, or a whole model folder:
//                                                    the chosen weights
//   DIR/defense.json                                 the record (run.ts)
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadAdapter } from '../models/peft.js';
import { templateNames, type InstructionSample } from '../models/prompt.js';
import { mergeLora } from '../nn/adapters.js';
import { listCheckpoints } from '../train/checkpoint.js';
import { parseTrainConfig, readYamlConfig, type TrainConfig } from '../train/config.js';
import { readTrainDataset, resolveDatasets } from '../train/data.js';
import type { Objective } from '../train/trainer.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { lmValue, loadVictim, meanValue, saveModelFolder, splitValidation, type BatchValue, type Victim } from './common.js';
import { registerDefense } from './registry.js';
import type { DefenseInput, DefenseOutcome, ParamSpec, SettingsSource, TrainingRunOptions } from './types.js';

const numeric = (v: unknown): unknown => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);

/** Settings every training defense adds to LLaMA-Factory's. */
const DEFENSE_KEYS = {
  validation: z.preprocess(numeric, z.number({ error: 'expected a number' }).min(0, { error: 'must be in [0, 0.5]' }).max(0.5, { error: 'must be in [0, 0.5]' })).default(0.1),
  select: z.enum(['last', 'best'], { error: 'expected last or best' }).default('last'),
};

/** CROW's published training recipe (configs/consistency/*.yaml), the flag form's starting point. */
const CROW_RECIPE: Readonly<Record<string, unknown>> = {
  finetuning_type: 'lora',
  lora_target: 'all',
  lora_rank: 8,
  lora_alpha: 16,
  lora_dropout: 0,
  cutoff_len: 1024,
  per_device_train_batch_size: 2,
  gradient_accumulation_steps: 4,
  learning_rate: 1e-3,
  num_train_epochs: 5,
  lr_scheduler_type: 'cosine',
  warmup_ratio: 0.1,
  max_grad_norm: 1,
  logging_steps: 10,
  save_steps: 100,
};

/** The prompt template every defense renders clean records with. */
export const TEMPLATE_PARAM: ParamSpec = {
  name: 'template',
  type: 'enum',
  default: 'auto',
  choices: templateNames(),
  doc: "prompt template, as the victim was trained (the published configs use alpaca; auto: the model's chat template, else alpaca)",
};

/** The documented settings of the training defenses (`defend --list`); any other key of `bdlab train` is accepted too. */
export const TRAIN_PARAMS: ParamSpec[] = [
  { name: 'learning_rate', type: 'number', default: 1e-3, min: 0, doc: 'peak learning rate' },
  { name: 'num_train_epochs', type: 'number', default: 5, min: 0, doc: 'training epochs' },
  { name: 'per_device_train_batch_size', type: 'int', default: 2, min: 1, doc: 'records per micro-batch' },
  { name: 'gradient_accumulation_steps', type: 'int', default: 4, min: 1, doc: 'micro-batches per optimiser step (every answer token weighs the same)' },
  { name: 'lr_scheduler_type', type: 'enum', default: 'cosine', choices: ['cosine', 'linear', 'constant', 'constant_with_warmup'], doc: 'learning-rate schedule' },
  { name: 'warmup_ratio', type: 'number', default: 0.1, min: 0, max: 1, doc: 'share of steps spent warming up' },
  { name: 'cutoff_len', type: 'int', default: 1024, min: 2, doc: 'tokens per record (answers cut first)' },
  { name: 'max_grad_norm', type: 'number', default: 1, min: 0, doc: 'gradient clipping norm (0 = none)' },
  { name: 'lora_rank', type: 'int', default: 8, min: 1, doc: 'rank of a new LoRA adapter' },
  { name: 'lora_alpha', type: 'number', default: 16, min: 0, doc: 'alpha of a new LoRA adapter' },
  { name: 'lora_dropout', type: 'number', default: 0, min: 0, max: 0.99, doc: 'dropout of a new LoRA adapter' },
  { name: 'create_new_adapter', type: 'bool', default: false, doc: "with --adapter: false trains the backdoor's own adapter further (CROW's code; writes an adapter), true merges it and trains a new one (writes a model folder)" },
  TEMPLATE_PARAM,
  { name: 'seed', type: 'int', default: 0, min: 0, doc: 'seed of the validation split, data order and new adapter (--seed)' },
  {
    name: 'validation',
    type: 'number',
    default: 0.1,
    min: 0,
    max: 0.5,
    doc: 'share of the clean records held out (seeded): clean loss before and after, and the epoch with select=best; 0 trains on all, as published',
  },
  {
    name: 'select',
    type: 'enum',
    default: 'last',
    choices: ['last', 'best'],
    doc: "which weights are kept: last = after the final epoch (the published recipe); best = the epoch with the lowest validation objective (the defense's own loss on the held-out records; checkpoints every epoch)",
  },
];

export type DefenseSettings = TrainConfig & z.output<z.ZodObject<typeof DEFENSE_KEYS>>;

/**
 * The settings of a training defense, validated by `bdlab train`'s schema plus
 * the defense's own keys. Without a file the flag form applies: CROW's recipe,
 * then --model/--adapter/--data/--out/--seed, then the given settings.
 */
export function readDefenseSettings<E extends z.ZodRawShape>(name: string, src: SettingsSource, extraKeys: E): DefenseSettings & z.output<z.ZodObject<E>> {
  const base = src.file ? readYamlConfig(src.file) : { ...CROW_RECIPE, seed: 0 };
  return parseTrainConfig({ ...base, ...src.settings }, { extraKeys: { ...DEFENSE_KEYS, ...extraKeys }, source: src.file ? `${src.file} (defend ${name})` : `defend ${name}` }) as DefenseSettings & z.output<z.ZodObject<E>>;
}

/** The flag form's paths and seed as settings (only those given: in the config form they override the file). */
export function settingsOf(input: Partial<DefenseInput>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input.model !== undefined) out.model_name_or_path = input.model;
  if (input.adapter !== undefined) out.adapter_name_or_path = input.adapter;
  if (input.data !== undefined) out.dataset = [input.data];
  if (input.out !== undefined) out.output_dir = input.out;
  if (input.seed !== undefined) out.seed = input.seed;
  if (input.device !== undefined) out.device = input.device === 'cpu' ? 'cpu' : 'cuda';
  if (input.dtype === 'bfloat16') out.bf16 = true;
  if (input.dtype === 'float16') out.fp16 = true;
  return out;
}

// ---- the run ---------------------------------------------------------------------------

export interface TrainingDefense {
  label: string;
  /** The training objective (default: the SFT loss). */
  objective?: Objective;
  /** The validation objective (the same loss, without gradients to the weights). */
  value: BatchValue;
  /** What the defense adds to `chosen` (its fixed hyper-parameters). */
  fixed?: Record<string, unknown>;
  /**
   * Instead of an adapter, write the model with the chosen adapter merged,
   * after `finish` edits it (fine-pruning re-removes its channels).
   */
  mergeInto?: { finish: (model: CausalLM) => void };
}

function writeSplit(path: string, samples: readonly InstructionSample[]): void {
  const text = `${JSON.stringify(samples.map((s) => ({ instruction: s.instruction, input: s.input ?? '', output: s.output ?? '', ...(s.system ? { system: s.system } : {}) })), null, 1)}\n`;
  // a resumed run must train on the same file (its sha256 is in the checkpoints)
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
  writeJsonAtomic(path, JSON.parse(text));
}

interface Candidate {
  epoch: number | null;
  step: number;
  dir: string;
}

/**
 * A defense that fine-tunes on the clean records: split, train with
 * runTraining (checkpoints, resume), choose the weights on the validation
 * split, write them into output_dir, and report.
 */
export async function trainDefense(s: DefenseSettings, d: TrainingDefense, o: TrainingRunOptions = {}): Promise<DefenseOutcome> {
  const cwd = o.cwd ?? process.cwd();
  if (s.finetuning_type !== 'lora') throw new UserError(`defend ${d.label}: finetuning_type must be lora (the defenses train LoRA adapters), got ${s.finetuning_type}`);
  const out = resolve(cwd, s.output_dir);
  if (!o.resume && !o.force && existsSync(out) && readdirSync(out).length > 0) {
    throw new UserError(`output folder ${out} is not empty (use --force to replace the earlier run, or --resume to continue it)`);
  }
  const modelDir = resolve(cwd, s.model_name_or_path);
  const adapterDir = s.adapter_name_or_path === null ? null : resolve(cwd, s.adapter_name_or_path);
  const loaded = resolveDatasets(s, cwd).map((src) => readTrainDataset(src, s.max_samples));
  const samples = loaded.flatMap((l) => l.samples);
  if (samples.some((x) => x.image !== undefined)) throw new UserError(`defend ${d.label}: the clean records have images; the defenses train on text records`);
  if (samples.length === 0) throw new UserError(`defend ${d.label}: no clean records in ${s.dataset.join(', ')}`);
  const split = splitValidation(samples, s.validation, s.seed);
  if (s.select === 'best' && split.validation.length === 0) throw new UserError(`defend ${d.label}: select=best needs validation data: give validation > 0 or select=last`);
  const trainFile = join(out, 'data', 'train.json');
  writeSplit(trainFile, split.train);
  if (split.validation.length) writeSplit(join(out, 'data', 'validation.json'), split.validation);

  const trainDir = join(out, 'training');
  const config: TrainConfig = {
    ...s,
    dataset: [trainFile],
    max_samples: null,
    output_dir: trainDir,
    ...(s.select === 'best' ? { save_strategy: 'epoch' as const, save_total_limit: null } : {}),
  };
  const { runTraining } = await import('../train/run.js');
  const summary = await runTraining({ config, objective: d.objective, resume: o.resume, force: o.force, label: d.label, cwd });

  // the candidates: every epoch's checkpoint (select=best) and the final weights
  const perEpoch = Math.max(1, Math.ceil(Math.ceil(split.train.length / s.per_device_train_batch_size) / s.gradient_accumulation_steps));
  const candidates: Candidate[] = [
    ...(s.select === 'best' ? listCheckpoints(trainDir).map((c) => ({ epoch: c.step % perEpoch === 0 ? c.step / perEpoch : null, step: c.step, dir: c.path })) : []),
    { epoch: s.num_train_epochs, step: summary.total_steps, dir: trainDir },
  ].filter((c) => c.epoch !== null);

  const merged = adapterDir !== null && s.create_new_adapter;
  const device = s.device === 'cuda' || (s.device === 'auto' && T.cudaAvailable()) ? 'cuda' : 'cpu';
  const v: Victim = await loadVictim({ model: modelDir, adapter: adapterDir ?? undefined, device }, { mergeAdapter: merged });
  try {
    const evalOpts = { maxLength: s.cutoff_len, template: summary.template, batchSize: Math.max(1, s.per_device_train_batch_size) };
    const lossBefore = meanValue(v.model, v.tok, split.validation, lmValue, evalOpts);
    const objectiveBefore = meanValue(v.model, v.tok, split.validation, d.value, evalOpts);
    const tried: Array<{ epoch: number; step: number; validation_objective: number | null; validation_loss: number | null }> = [];
    for (const c of candidates) {
      loadAdapter(v.model, c.dir);
      tried.push({ epoch: c.epoch as number, step: c.step, validation_objective: meanValue(v.model, v.tok, split.validation, d.value, evalOpts), validation_loss: meanValue(v.model, v.tok, split.validation, lmValue, evalOpts) });
    }
    let chosen = tried.length - 1;
    if (s.select === 'best') tried.forEach((t, i) => (chosen = (t.validation_objective ?? Infinity) < ((tried[chosen] as typeof t).validation_objective ?? Infinity) ? i : chosen));
    const pick = candidates[chosen] as Candidate;
    const kind = merged || d.mergeInto ? 'model' : 'adapter';
    if (kind === 'adapter') {
      mkdirSync(out, { recursive: true });
      for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) copyFileSync(join(pick.dir, f), join(out, f));
    } else {
      loadAdapter(v.model, pick.dir);
      T.noGrad(() => mergeLora(v.model));
      d.mergeInto?.finish(v.model);
      await saveModelFolder(v, modelDir, out);
    }
    const notes: string[] = [];
    if (merged) notes.push('the backdoor adapter was merged into the weights and a new adapter trained (create_new_adapter): the output is a whole model folder');
    if (split.validation.length === 0) notes.push('validation 0: no held-out records, so no clean loss is reported');
    return {
      kind,
      chosen: {
        ...(d.fixed ?? {}),
        epoch: (tried[chosen] as { epoch: number }).epoch,
        epoch_rule: s.select === 'best' ? 'the epoch with the lowest validation objective' : 'the last epoch',
        adapter: adapterDir === null ? 'new' : merged ? 'new (backdoor adapter merged)' : 'continued',
        template: summary.template,
      },
      validation: {
        records: split.validation.length,
        loss_before: lossBefore,
        loss_after: (tried[chosen] as { validation_loss: number | null }).validation_loss,
        objective_before: objectiveBefore,
        tried,
      },
      cost: { steps: summary.total_steps, tokens: summary.answer_tokens },
      data: { samples: samples.length, train: split.train.length, validation: split.validation.length, sha256: loaded.map((l) => l.sha256).join(',') },
      training: { log: join(trainDir, 'trainer_log.jsonl'), first_loss: summary.first_loss, last_loss: summary.last_loss, seconds: summary.seconds, tokens_per_second: summary.tokens_per_second, resumed_from_step: summary.resumed_from_step },
      inputs: { model: modelDir, adapter: adapterDir, data: loaded.map((l) => l.source.path) },
      output_dir: out,
      seed: s.seed,
      notes,
    };
  } finally {
    v.model.dispose();
  }
}

/**
 * Registers a defense that fine-tunes: `extraKeys` are its own settings (zod,
 * validated with bdlab train's keys), `params` their documentation, and
 * `make` turns the validated settings into the objective and validation value.
 */
export function registerTrainingDefense<E extends z.ZodRawShape>(def: {
  name: string;
  summary: string;
  params: ParamSpec[];
  extraKeys: E;
  make: (s: DefenseSettings & z.output<z.ZodObject<E>>) => TrainingDefense;
}): void {
  registerDefense({
    kind: 'training',
    name: def.name,
    summary: def.summary,
    output: 'adapter',
    params: [...def.params, ...TRAIN_PARAMS],
    run: (src: SettingsSource, o: TrainingRunOptions) => {
      const s = readDefenseSettings(def.name, src, def.extraKeys);
      return trainDefense(s, def.make(s), o);
    },
  });
}
