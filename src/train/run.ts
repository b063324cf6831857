// A whole `bdlab train` run from a validated configuration: load the model
// (and adapter), choose what trains, read and encode the datasets, train with
// checkpoints, write the result into output_dir.
//
// Contract (the CLI, the defenses and the experiment pipeline call this):
//   runTraining({ config, objective?, resume?, force?, label?, onLog?, note?, cwd? })
//     → Promise<TrainSummary>
// - config: parseTrainConfig / readTrainConfig output (src/train/config.ts);
//   relative paths are taken from `cwd` (default process.cwd()).
// - objective: the per-micro-batch loss (src/train/trainer.ts Objective;
//   default the SFT loss on answer tokens).
// - output_dir must be empty or missing unless `force` / overwrite_output_dir
//   (the earlier run's files are removed) or `resume` /
//   resume_from_checkpoint (continue from the newest complete checkpoint, or
//   the one named; with none, start over). A finished run resumed returns its
//   recorded summary.
// - Writes a PEFT adapter (lora) or a Hugging Face model folder (full, freeze),
//   trainer_log.jsonl, checkpoint-<step>/ folders and, last, train_results.json
//   (the TrainSummary). Notes (precision, resume, ignored data) go to `note`
//   (default: stderr), one line each; progress goes to stderr.
// - Killed at any point and resumed, the run ends with the same bytes as an
//   uninterrupted one (src/train/checkpoint.ts).
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DType, Device } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { TrainConfig } from './config.js';
import {
  OPTIMIZER_STATE,
  STATE_FORMAT,
  TRAIN_RESULTS,
  TRAINER_LOG,
  clearRunFiles,
  faultAt,
  isEmptyDir,
  newestCheckpoint,
  pruneCheckpoints,
  readTrainerState,
  removePartialCheckpoints,
  truncateLog,
  writeCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import type { Objective, StepInfo } from './trainer.js';

export interface TrainJob {
  config: TrainConfig;
  objective?: Objective;
  /** Continue from the newest complete checkpoint in output_dir (also: config.resume_from_checkpoint). */
  resume?: boolean;
  /** Replace an earlier run's files in output_dir (also: config.overwrite_output_dir). */
  force?: boolean;
  /** Progress label. */
  label?: string;
  /** Every trainer_log.jsonl entry, as it is written. */
  onLog?: (entry: TrainLogEntry) => void;
  /** One-line notes (default: stderr). */
  note?: (line: string) => void;
  /** Folder relative paths are taken from (default: process.cwd()). */
  cwd?: string;
}

/** One line of trainer_log.jsonl (an objective's metrics join these keys). */
export interface TrainLogEntry {
  step: number;
  total_steps: number;
  epoch: number;
  /** Mean step loss since the previous entry. */
  loss: number;
  lr: number;
  grad_norm: number;
  /** Input tokens (without padding) per second since the previous entry. */
  tokens_per_second: number;
  /** Seconds since training started (all processes of a resumed run). */
  elapsed_seconds: number;
  [metric: string]: number;
}

export interface DatasetRecord {
  name: string;
  path: string;
  format: string;
  records: number;
  samples: number;
  sha256: string;
}

/** train_results.json: what ran and how it went. */
export interface TrainSummary {
  output_dir: string;
  model: string;
  adapter: string | null;
  finetuning_type: TrainConfig['finetuning_type'];
  /** What trained, in words. */
  trainable: string;
  trainable_parameters: number;
  /** The prompt template used (`auto` resolved). */
  template: string;
  device: string;
  /** Dtypes of the frozen and trained weights. */
  precision: string;
  samples: number;
  images: number;
  datasets: DatasetRecord[];
  steps: number;
  total_steps: number;
  epochs: number;
  resumed_from_step: number | null;
  seconds: number;
  /** Input tokens without padding. */
  tokens: number;
  /** Tokens in the loss. */
  answer_tokens: number;
  tokens_per_second: number;
  first_loss: number;
  last_loss: number;
  seed: number;
  /** Result files in output_dir. */
  files: string[];
  config: Record<string, unknown>;
}

const NOT_IN_FINGERPRINT = new Set(['output_dir', 'overwrite_output_dir', 'resume_from_checkpoint', 'logging_steps', 'save_steps', 'save_strategy', 'save_total_limit']);
const PATH_KEYS = ['model_name_or_path', 'adapter_name_or_path', 'dataset_dir', 'media_dir'];

/** The settings that decide the trained weights, paths made absolute. */
function fingerprintOf(c: Record<string, unknown>, cwd: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (NOT_IN_FINGERPRINT.has(k)) continue;
    out[k] = PATH_KEYS.includes(k) && typeof v === 'string' ? resolve(cwd, v) : v;
  }
  return out;
}

function differingKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/** A count of steps from a whole number or, below 1, a share of the total (transformers). */
function everySteps(v: number, total: number): number {
  return v < 1 ? Math.max(1, Math.ceil(v * total)) : Math.round(v);
}

interface Start {
  checkpoint: string | null;
  state: TrainerState | null;
}

/** Decides how output_dir is used: fresh, replaced, resumed, or already finished. */
function prepareOutput(outDir: string, c: TrainConfig, job: TrainJob, cwd: string, fingerprint: Record<string, unknown>, note: (l: string) => void): Start | { finished: TrainSummary } {
  const resume = job.resume === true || c.resume_from_checkpoint === true || typeof c.resume_from_checkpoint === 'string';
  const force = job.force === true || c.overwrite_output_dir;
  if (resume) {
    const results = join(outDir, TRAIN_RESULTS);
    if (existsSync(results) && typeof c.resume_from_checkpoint !== 'string') {
      const done = JSON.parse(readFileSync(results, 'utf8')) as TrainSummary;
      const diff = differingKeys(fingerprintOf(done.config, cwd), fingerprint);
      if (diff.length) throw new UserError(`${outDir} holds a finished run with other settings (${diff.join(', ')}); use --force to replace it`);
      note(`bdlab train: ${outDir} already holds the finished run; nothing to resume`);
      return { finished: done };
    }
    removePartialCheckpoints(outDir);
    const ckpt = typeof c.resume_from_checkpoint === 'string' ? resolve(cwd, c.resume_from_checkpoint) : newestCheckpoint(outDir);
    if (ckpt) {
      const state = readTrainerState(ckpt);
      const diff = differingKeys(state.fingerprint, fingerprint);
      if (diff.length) throw new UserError(`${ckpt} was written with other settings (${diff.join(', ')}); resume with the same config or start over with --force`);
      return { checkpoint: ckpt, state };
    }
    note(`bdlab train: no complete checkpoint in ${outDir}; starting from the beginning`);
    clearRunFiles(outDir);
    return { checkpoint: null, state: null };
  }
  if (!isEmptyDir(outDir)) {
    if (!force) throw new UserError(`output_dir ${outDir} is not empty: use --force (overwrite_output_dir: true) to replace the earlier run, or --resume to continue it`);
    clearRunFiles(outDir);
  }
  return { checkpoint: null, state: null };
}

/** Trains as the configuration says and writes output_dir; see the contract above. */
export async function runTraining(job: TrainJob): Promise<TrainSummary> {
  const c = job.config;
  const cwd = job.cwd ?? process.cwd();
  const note = job.note ?? ((l: string) => process.stderr.write(`${l}\n`));
  const outDir = resolve(cwd, c.output_dir);
  const modelDir = resolve(cwd, c.model_name_or_path);
  const adapterDir = c.adapter_name_or_path === null ? null : resolve(cwd, c.adapter_name_or_path);
  if (!existsSync(join(modelDir, 'config.json'))) throw new UserError(`model_name_or_path: ${modelDir} is not a model folder (no config.json; models are read from local Hugging Face folders only)`);
  if (adapterDir && !existsSync(join(adapterDir, 'adapter_config.json'))) throw new UserError(`adapter_name_or_path: ${adapterDir} is not a PEFT adapter folder (no adapter_config.json)`);
  const fingerprint = fingerprintOf(c as unknown as Record<string, unknown>, cwd);

  // data first: cheap, and a bad record should fail before a model is loaded
  const { resolveDatasets, readTrainDataset, buildTrainData } = await import('./data.js');
  const loaded = resolveDatasets(c, cwd).map((s) => readTrainDataset(s, c.max_samples));
  const shas = loaded.map((d) => d.sha256);
  const multiTurn = loaded.reduce((a, d) => a + d.multiTurn, 0);
  if (multiTurn) note(`bdlab train: ${multiTurn} records have more than one exchange; only the first is trained (multi-turn training is not supported)`);
  const samples = loaded.flatMap((d) => d.samples);

  const start = prepareOutput(outDir, c, job, cwd, fingerprint, note);
  if ('finished' in start) return start.finished;
  if (start.state && JSON.stringify(start.state.dataset_sha256) !== JSON.stringify(shas)) {
    throw new UserError(`${start.checkpoint}: the datasets changed since this checkpoint was written (sha256 differs); start over with --force`);
  }
  mkdirSync(outDir, { recursive: true });

  const T = await import('../engine/index.js');
  const { loadModel, saveModel } = await import('../models/load.js');
  const { readConfig } = await import('../models/config.js');
  const { readAdapterConfig, saveAdapter } = await import('../models/peft.js');
  const { copyTokenizerFiles } = await import('../models/files.js');
  const { TextTokenizer } = await import('../models/tokenizer.js');
  const { resolveTemplate } = await import('../models/prompt.js');
  const { readImageProcessorConfig } = await import('../models/image-processor.js');
  const { setUpTrainable, isLlava } = await import('./trainable.js');
  const { createOptimizer, planSteps, trainLoop } = await import('./trainer.js');

  const device: Device = c.device === 'auto' ? (T.cudaAvailable() ? 'cuda' : 'cpu') : c.device;
  if (device === 'cuda' && !T.cudaAvailable()) throw new UserError('device: cuda requested, but libtorch has no CUDA or no GPU is visible');
  const modelConfig = readConfig(modelDir);
  const llavaModel = modelConfig.modelType === 'llava';
  const half: DType | null = c.bf16 ? 'bfloat16' : c.fp16 ? 'float16' : null;
  // half-precision frozen weights only where every trained weight is a LoRA matrix kept in float32
  const adapterSavesModules = adapterDir ? (readAdapterConfig(adapterDir).modulesToSave?.length ?? 0) > 0 : false;
  const halfBase = half !== null && device !== 'cpu' && c.finetuning_type === 'lora' && !(llavaModel && !c.freeze_multi_modal_projector) && !adapterSavesModules;
  const baseDtype: DType = halfBase ? (half as DType) : 'float32';
  const precision = halfBase ? `${baseDtype} frozen weights, float32 LoRA weights and optimiser state` : 'float32';
  if (half) {
    const flag = c.bf16 ? 'bf16' : 'fp16';
    note(
      halfBase
        ? `bdlab train: ${flag}: frozen base weights in ${baseDtype}, LoRA weights, gradients and optimiser state in float32 (there is no autocast: the base's activations are ${baseDtype}${c.fp16 ? ', without loss scaling' : ''})`
        : `bdlab train: ${flag}: ${device === 'cpu' ? 'no mixed-precision autocast on the CPU' : 'full, freeze and projector training keep float32 weights (no autocast)'}; training in float32 instead`,
    );
  }

  const tok = TextTokenizer.load(modelDir);
  const template = resolveTemplate(tok, c.template).name;
  const resumeFull = start.checkpoint !== null && c.finetuning_type !== 'lora';
  const { model, config: loadedConfig } = loadModel(resumeFull ? (start.checkpoint as string) : modelDir, { dtype: baseDtype, device });
  let data: Awaited<ReturnType<typeof buildTrainData>> | null = null;
  try {
    const setup = setUpTrainable(model, c, {
      // a full/freeze checkpoint already holds the merged adapter
      adapterDir: resumeFull ? null : adapterDir,
      checkpointDir: c.finetuning_type === 'lora' ? start.checkpoint : null,
      seed: c.seed,
    });
    const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
    data = await buildTrainData(tok, samples, {
      template,
      cutoffLen: c.cutoff_len,
      trainOnPrompt: c.train_on_prompt,
      padId: pad,
      device,
      ...(isLlava(model)
        ? {
            images: {
              tokenId: model.config.imageTokenId,
              count: model.imageSeqLength,
              processor: readImageProcessorConfig(modelDir, model.config.vision.imageSize),
              cache: { spillFile: join(outDir, `.image-cache-${process.pid}.f32`) },
            },
          }
        : {}),
    });
    const opts = {
      epochs: c.num_train_epochs,
      lr: c.learning_rate,
      batchSize: c.per_device_train_batch_size,
      gradAccum: c.gradient_accumulation_steps,
      schedule: c.lr_scheduler_type === 'constant_with_warmup' ? ('constant' as const) : c.lr_scheduler_type,
      // transformers' `constant` ignores warm-up; `constant_with_warmup` has it
      warmupRatio: c.lr_scheduler_type === 'constant' ? 0 : c.warmup_ratio,
      warmupSteps: c.lr_scheduler_type === 'constant' ? 0 : c.warmup_steps,
      maxSteps: c.max_steps,
      weightDecay: c.weight_decay,
      betas: [c.adam_beta1, c.adam_beta2] as [number, number],
      eps: c.adam_epsilon,
      maxGradNorm: c.max_grad_norm,
      maxLength: c.cutoff_len,
      seed: c.seed,
      groupByLength: c.group_by_length,
      template,
      trainOnPrompt: c.train_on_prompt,
      label: job.label ?? 'train',
      ...(job.objective ? { objective: job.objective } : {}),
    };
    if (c.lr_scheduler_type === 'constant' && (c.warmup_ratio > 0 || c.warmup_steps > 0)) note('bdlab train: lr_scheduler_type constant has no warm-up (as transformers); use constant_with_warmup for one');
    const plan = planSteps(data.size, opts);
    const optimizer = createOptimizer(model, opts);
    const prev = start.state;
    if (start.checkpoint) optimizer.load(join(start.checkpoint, OPTIMIZER_STATE));
    const startStep = prev?.step ?? 0;
    if (prev && prev.total_steps !== plan.totalSteps) throw new UserError(`${start.checkpoint}: planned ${prev.total_steps} steps, this run plans ${plan.totalSteps}; resume with the same data and settings`);
    if (prev) note(`bdlab train: resuming from ${start.checkpoint} (step ${startStep} of ${plan.totalSteps})`);

    const logPath = join(outDir, TRAINER_LOG);
    truncateLog(logPath, startStep);
    const logEvery = everySteps(c.logging_steps, plan.totalSteps);
    const saveEvery = c.save_strategy === 'epoch' ? plan.stepsPerEpoch : c.save_strategy === 'no' ? 0 : everySteps(c.save_steps, plan.totalSteps);
    const losses = [...(prev?.losses ?? [])];
    const priorSeconds = prev?.seconds ?? 0;
    let tokens = prev?.tokens ?? 0;
    let answerTokens = prev?.answer_tokens ?? 0;
    const t0 = Date.now();
    let window = { losses: [...(prev?.log_window.losses ?? [])], tokens: prev?.log_window.tokens ?? 0, since: t0 };
    const elapsed = (): number => priorSeconds + (Date.now() - t0) / 1000;

    const saveResult = (dir: string): void => {
      if (setup.lora) {
        saveAdapter(model, dir, { modulesToSave: setup.lora.modulesToSave, baseModelNameOrPath: c.model_name_or_path });
      } else {
        saveModel(model, loadedConfig, dir);
        copyTokenizerFiles(modelDir, dir);
      }
    };

    const onStepEnd = (info: StepInfo): void => {
      losses.push(info.loss);
      tokens += info.inputTokens;
      answerTokens += info.tokens;
      window.losses.push(info.loss);
      window.tokens += info.inputTokens;
      if (info.step % logEvery === 0 || info.step === info.totalSteps) {
        const now = Date.now();
        const entry: TrainLogEntry = {
          step: info.step,
          total_steps: info.totalSteps,
          epoch: Number(info.epoch.toFixed(4)),
          loss: window.losses.reduce((a, b) => a + b, 0) / window.losses.length,
          lr: info.lr,
          grad_norm: info.gradNorm,
          tokens_per_second: window.tokens / Math.max((now - window.since) / 1000, 1e-9),
          elapsed_seconds: elapsed(),
          ...info.metrics,
        };
        appendFileSync(logPath, `${JSON.stringify(entry)}\n`);
        job.onLog?.(entry);
        window = { losses: [], tokens: 0, since: now };
      }
      if (saveEvery > 0 && info.step % saveEvery === 0 && info.step < info.totalSteps) {
        const state: TrainerState = {
          format: STATE_FORMAT,
          version: 1,
          step: info.step,
          total_steps: info.totalSteps,
          epoch: Math.floor(info.step / plan.stepsPerEpoch),
          step_in_epoch: info.step % plan.stepsPerEpoch,
          fingerprint,
          dataset_sha256: shas,
          rng: 'libtorch global generator reseeded before each step from (seed, step)',
          losses: [...losses],
          log_window: { losses: [...window.losses], tokens: window.tokens },
          tokens,
          answer_tokens: answerTokens,
          seconds: elapsed(),
        };
        writeCheckpoint(
          outDir,
          state,
          (tmp) => {
            saveResult(tmp);
            optimizer.save(join(tmp, OPTIMIZER_STATE));
          },
          () => faultAt('in-checkpoint', info.step),
        );
        pruneCheckpoints(outDir, c.save_total_limit);
      }
      faultAt('after-step', info.step);
    };

    if (startStep < plan.totalSteps) trainLoop(model, data, { ...opts, startStep, optimizer, onStepEnd });
    optimizer.dispose();
    saveResult(outDir);
    const files = setup.lora ? ['adapter_config.json', 'adapter_model.safetensors'] : ['config.json', 'model.safetensors'];
    const seconds = elapsed();
    const summary: TrainSummary = {
      output_dir: outDir,
      model: modelDir,
      adapter: adapterDir,
      finetuning_type: c.finetuning_type,
      trainable: setup.description,
      trainable_parameters: setup.trainableParameters,
      template,
      device,
      precision,
      samples: samples.length,
      images: data.images,
      datasets: loaded.map((d) => ({ name: d.source.name, path: d.source.path, format: d.format, records: d.records, samples: d.samples.length, sha256: d.sha256 })),
      steps: plan.totalSteps,
      total_steps: plan.totalSteps,
      epochs: c.num_train_epochs,
      resumed_from_step: prev ? startStep : null,
      seconds,
      tokens,
      answer_tokens: answerTokens,
      tokens_per_second: tokens / Math.max(seconds, 1e-9),
      first_loss: losses[0] ?? NaN,
      last_loss: losses[losses.length - 1] ?? NaN,
      seed: c.seed,
      files: [...files, TRAINER_LOG, TRAIN_RESULTS],
      config: c as unknown as Record<string, unknown>,
    };
    writeJsonAtomic(join(outDir, TRAIN_RESULTS), summary);
    return summary;
  } finally {
    data?.dispose();
    model.dispose();
  }
}
