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
import * as T from '../engine/index.js';
import { readConfig } from '../models/config.js';
import { copyTokenizerFiles } from '../models/files.js';
import { readImageProcessorConfig } from '../models/image-processor.js';
import type { CausalLM } from '../models/llama.js';
import { loadModel, saveModel } from '../models/load.js';
import { readAdapterConfig, saveAdapter } from '../models/peft.js';
import { resolveTemplate } from '../models/prompt.js';
import { TextTokenizer } from '../models/tokenizer.js';
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
import { buildTrainData, readTrainDataset, resolveDatasets, type BuiltData, type LoadedDataset } from './data.js';
import { isLlava, setUpTrainable, type TrainableSetup } from './trainable.js';
import { createOptimizer, planSteps, trainLoop, type Objective, type StepInfo, type StepPlan, type TrainLoopOptions } from './trainer.js';

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

interface Precision {
  /** Dtype the model's weights are loaded in. */
  dtype: T.DType;
  /** In words, for the summary. */
  precision: string;
  /** The line that says what bf16/fp16 became, if asked for. */
  message: string | null;
}

/**
 * What bf16/fp16 become without autocast: half-precision frozen weights only on
 * a GPU and only where every trained weight is a LoRA matrix (kept in float32);
 * everything else trains in float32, and the message says so.
 */
function precisionFor(c: TrainConfig, device: T.Device, llava: boolean, adapterDir: string | null): Precision {
  const half: T.DType | null = c.bf16 ? 'bfloat16' : c.fp16 ? 'float16' : null;
  if (half === null) return { dtype: 'float32', precision: 'float32', message: null };
  const flag = c.bf16 ? 'bf16' : 'fp16';
  const wholeModules = (llava && !c.freeze_multi_modal_projector) || (adapterDir !== null && (readAdapterConfig(adapterDir).modulesToSave?.length ?? 0) > 0);
  if (device !== 'cpu' && c.finetuning_type === 'lora' && !wholeModules) {
    return {
      dtype: half,
      precision: `${half} frozen weights, float32 LoRA weights and optimiser state`,
      message: `bdlab train: ${flag}: frozen base weights in ${half}, LoRA weights, gradients and optimiser state in float32 (there is no autocast: the base's activations are ${half}${c.fp16 ? ', without loss scaling' : ''})`,
    };
  }
  const why = device === 'cpu' ? 'no mixed-precision autocast on the CPU' : 'full, freeze and whole-module training keep float32 weights (no autocast)';
  return { dtype: 'float32', precision: 'float32', message: `bdlab train: ${flag}: ${why}; training in float32 instead` };
}

/** The step loop's settings from the configuration (transformers' meaning of each key). */
function loopOptions(c: TrainConfig, template: string, job: TrainJob): TrainLoopOptions {
  return {
    epochs: c.num_train_epochs,
    lr: c.learning_rate,
    batchSize: c.per_device_train_batch_size,
    gradAccum: c.gradient_accumulation_steps,
    schedule: c.lr_scheduler_type === 'constant_with_warmup' ? 'constant' : c.lr_scheduler_type,
    // transformers' `constant` ignores warm-up; `constant_with_warmup` has it
    warmupRatio: c.lr_scheduler_type === 'constant' ? 0 : c.warmup_ratio,
    warmupSteps: c.lr_scheduler_type === 'constant' ? 0 : c.warmup_steps,
    maxSteps: c.max_steps,
    weightDecay: c.weight_decay,
    betas: [c.adam_beta1, c.adam_beta2],
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
}

/**
 * What happens after each step: the log line every logging_steps (averaging
 * the steps since the previous one) and the checkpoint every save_steps, with
 * the running totals a resumed run continues from.
 */
class RunRecorder {
  readonly losses: number[];
  tokens: number;
  answerTokens: number;
  private window: { losses: number[]; tokens: number; since: number };
  private readonly t0 = Date.now();
  private readonly logEvery: number;
  private readonly saveEvery: number;

  constructor(
    private readonly o: {
      outDir: string;
      config: TrainConfig;
      plan: StepPlan;
      fingerprint: Record<string, unknown>;
      shas: string[];
      prev: TrainerState | null;
      /** Writes the weights (adapter or model folder) and the optimiser state into a folder. */
      save: (dir: string) => void;
      onLog: ((e: TrainLogEntry) => void) | undefined;
    },
  ) {
    const { prev, plan, config: c } = o;
    this.losses = [...(prev?.losses ?? [])];
    this.tokens = prev?.tokens ?? 0;
    this.answerTokens = prev?.answer_tokens ?? 0;
    this.window = { losses: [...(prev?.log_window.losses ?? [])], tokens: prev?.log_window.tokens ?? 0, since: this.t0 };
    this.logEvery = everySteps(c.logging_steps, plan.totalSteps);
    this.saveEvery = c.save_strategy === 'epoch' ? plan.stepsPerEpoch : c.save_strategy === 'no' ? 0 : everySteps(c.save_steps, plan.totalSteps);
  }

  /** Training seconds of every process of the run. */
  elapsed(): number {
    return (this.o.prev?.seconds ?? 0) + (Date.now() - this.t0) / 1000;
  }

  readonly onStepEnd = (info: StepInfo): void => {
    this.losses.push(info.loss);
    this.tokens += info.inputTokens;
    this.answerTokens += info.tokens;
    this.window.losses.push(info.loss);
    this.window.tokens += info.inputTokens;
    if (info.step % this.logEvery === 0 || info.step === info.totalSteps) this.log(info);
    if (this.saveEvery > 0 && info.step % this.saveEvery === 0 && info.step < info.totalSteps) this.checkpoint(info);
    faultAt('after-step', info.step);
  };

  private log(info: StepInfo): void {
    const now = Date.now();
    const w = this.window;
    const entry: TrainLogEntry = {
      step: info.step,
      total_steps: info.totalSteps,
      epoch: Number(info.epoch.toFixed(4)),
      loss: w.losses.reduce((a, b) => a + b, 0) / w.losses.length,
      lr: info.lr,
      grad_norm: info.gradNorm,
      tokens_per_second: w.tokens / Math.max((now - w.since) / 1000, 1e-9),
      elapsed_seconds: this.elapsed(),
      ...info.metrics,
    };
    appendFileSync(join(this.o.outDir, TRAINER_LOG), `${JSON.stringify(entry)}\n`);
    this.o.onLog?.(entry);
    this.window = { losses: [], tokens: 0, since: now };
  }

  private checkpoint(info: StepInfo): void {
    const { plan } = this.o;
    const state: TrainerState = {
      format: STATE_FORMAT,
      version: 1,
      step: info.step,
      total_steps: info.totalSteps,
      epoch: Math.floor(info.step / plan.stepsPerEpoch),
      step_in_epoch: info.step % plan.stepsPerEpoch,
      fingerprint: this.o.fingerprint,
      dataset_sha256: this.o.shas,
      rng: 'libtorch global generator reseeded before each step from (seed, step)',
      losses: [...this.losses],
      log_window: { losses: [...this.window.losses], tokens: this.window.tokens },
      tokens: this.tokens,
      answer_tokens: this.answerTokens,
      seconds: this.elapsed(),
    };
    writeCheckpoint(this.o.outDir, state, this.o.save, () => faultAt('in-checkpoint', info.step));
    pruneCheckpoints(this.o.outDir, this.o.config.save_total_limit);
  }
}

/** The model, what trains and the encoded data of a run. */
interface Prepared {
  model: CausalLM;
  setup: TrainableSetup;
  data: BuiltData;
  template: string;
  device: T.Device;
  precision: string;
  /** Writes the result (adapter or model folder) into a folder. */
  saveResult: (dir: string) => void;
}

async function prepare(c: TrainConfig, paths: { modelDir: string; adapterDir: string | null; outDir: string }, checkpoint: string | null, samples: LoadedDataset['samples'], note: (l: string) => void): Promise<Prepared> {
  const { modelDir, adapterDir, outDir } = paths;
  const device: T.Device = c.device === 'auto' ? (T.cudaAvailable() ? 'cuda' : 'cpu') : c.device;
  if (device === 'cuda' && !T.cudaAvailable()) throw new UserError('device: cuda requested, but libtorch has no CUDA or no GPU is visible');
  const p = precisionFor(c, device, readConfig(modelDir).modelType === 'llava', adapterDir);
  if (p.message) note(p.message);
  const tok = TextTokenizer.load(modelDir);
  const template = resolveTemplate(tok, c.template).name;
  // a full/freeze checkpoint is a whole model folder that already holds any merged adapter
  const resumeFull = checkpoint !== null && c.finetuning_type !== 'lora';
  const { model, config: modelConfig } = loadModel(resumeFull ? (checkpoint as string) : modelDir, { dtype: p.dtype, device });
  try {
    const setup = setUpTrainable(model, c, { adapterDir: resumeFull ? null : adapterDir, checkpointDir: c.finetuning_type === 'lora' ? checkpoint : null, seed: c.seed });
    const images = isLlava(model)
      ? {
          tokenId: model.config.imageTokenId,
          count: model.imageSeqLength,
          processor: readImageProcessorConfig(modelDir, model.config.vision.imageSize),
          cache: { spillFile: join(outDir, `.image-cache-${process.pid}.f32`) },
        }
      : undefined;
    const data = await buildTrainData(tok, samples, { template, cutoffLen: c.cutoff_len, trainOnPrompt: c.train_on_prompt, padId: tok.padTokenId ?? tok.eosTokenId ?? 0, device, ...(images ? { images } : {}) });
    const saveResult = (dir: string): void => {
      if (setup.lora) {
        saveAdapter(model, dir, { modulesToSave: setup.lora.modulesToSave, baseModelNameOrPath: c.model_name_or_path });
      } else {
        saveModel(model, modelConfig, dir);
        copyTokenizerFiles(modelDir, dir);
      }
    };
    return { model, setup, data, template, device, precision: p.precision, saveResult };
  } catch (e) {
    model.dispose();
    throw e;
  }
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
  const loaded = resolveDatasets(c, cwd).map((s) => readTrainDataset(s, c.max_samples));
  const shas = loaded.map((d) => d.sha256);
  const multiTurn = loaded.reduce((a, d) => a + d.multiTurn, 0);
  if (multiTurn) note(`bdlab train: ${multiTurn} records have more than one exchange; only the first is trained (multi-turn training is not supported)`);
  const samples = loaded.flatMap((d) => d.samples);

  const start = prepareOutput(outDir, c, job, cwd, fingerprint, note);
  if ('finished' in start) return start.finished;
  const prev = start.state;
  if (prev && JSON.stringify(prev.dataset_sha256) !== JSON.stringify(shas)) {
    throw new UserError(`${start.checkpoint}: the datasets changed since this checkpoint was written (sha256 differs); start over with --force`);
  }
  mkdirSync(outDir, { recursive: true });

  const run = await prepare(c, { modelDir, adapterDir, outDir }, start.checkpoint, samples, note);
  try {
    const opts = loopOptions(c, run.template, job);
    if (c.lr_scheduler_type === 'constant' && (c.warmup_ratio > 0 || c.warmup_steps > 0)) note('bdlab train: lr_scheduler_type constant has no warm-up (as transformers); use constant_with_warmup for one');
    const plan = planSteps(run.data.size, opts);
    const optimizer = createOptimizer(run.model, opts);
    try {
      if (start.checkpoint) optimizer.load(join(start.checkpoint, OPTIMIZER_STATE));
      const startStep = prev?.step ?? 0;
      if (prev && prev.total_steps !== plan.totalSteps) throw new UserError(`${start.checkpoint}: planned ${prev.total_steps} steps, this run plans ${plan.totalSteps}; resume with the same data and settings`);
      if (prev) note(`bdlab train: resuming from ${start.checkpoint} (step ${startStep} of ${plan.totalSteps})`);
      truncateLog(join(outDir, TRAINER_LOG), startStep);
      const rec = new RunRecorder({
        outDir,
        config: c,
        plan,
        fingerprint,
        shas,
        prev,
        save: (dir) => {
          run.saveResult(dir);
          optimizer.save(join(dir, OPTIMIZER_STATE));
        },
        onLog: job.onLog,
      });
      if (startStep < plan.totalSteps) trainLoop(run.model, run.data, { ...opts, startStep, optimizer, onStepEnd: rec.onStepEnd });
      run.saveResult(outDir);
      const seconds = rec.elapsed();
      const summary: TrainSummary = {
        output_dir: outDir,
        model: modelDir,
        adapter: adapterDir,
        finetuning_type: c.finetuning_type,
        trainable: run.setup.description,
        trainable_parameters: run.setup.trainableParameters,
        template: run.template,
        device: run.device,
        precision: run.precision,
        samples: samples.length,
        images: run.data.images,
        datasets: loaded.map((d) => ({ name: d.source.name, path: d.source.path, format: d.format, records: d.records, samples: d.samples.length, sha256: d.sha256 })),
        steps: plan.totalSteps,
        total_steps: plan.totalSteps,
        epochs: c.num_train_epochs,
        resumed_from_step: prev ? startStep : null,
        seconds,
        tokens: rec.tokens,
        answer_tokens: rec.answerTokens,
        tokens_per_second: rec.tokens / Math.max(seconds, 1e-9),
        first_loss: rec.losses[0] ?? NaN,
        last_loss: rec.losses[rec.losses.length - 1] ?? NaN,
        seed: c.seed,
        files: [...(run.setup.lora ? ['adapter_config.json', 'adapter_model.safetensors'] : ['config.json', 'model.safetensors']), TRAINER_LOG, TRAIN_RESULTS],
        config: c as unknown as Record<string, unknown>,
      };
      writeJsonAtomic(join(outDir, TRAIN_RESULTS), summary);
      return summary;
    } finally {
      optimizer.dispose();
    }
  } finally {
    run.data.dispose();
    run.model.dispose();
  }
}
