// `bdlab train`'s configuration: LLaMA-Factory's YAML keys (snake_case, as
// written), so the published BackdoorLLM/CROW configs run with only their
// paths changed. A key is one of:
// - supported: validated by the zod schema below, defaults as LLaMA-Factory
//   v0.9.1 / transformers' TrainingArguments;
// - ignored: known, with no effect on the trained weights here (deepspeed,
//   ddp_timeout, ...): named together in one warning line; some are ignored
//   only at their harmless value (val_size: 0, packing: false, ...) and refused
//   otherwise;
// - unknown: an error naming the key and the closest known one.
//
// Contract for other commands (e.g. `defend crow` adds `alpha`, `epsilon`):
//   parseTrainConfig(obj, { extraKeys: { alpha: z.number() ... } }) validates
//   the extra keys with the same rules and returns TrainConfig & their types;
//   readTrainConfig({ file, argv }) reads a YAML file and `--key value` flags
//   (flags win) the same way.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { isTemplateName, templateNames } from '../models/prompt.js';
import { UserError } from '../util/errors.js';

// ---- value helpers: YAML gives typed values, flags give strings -----------------

const numeric = (v: unknown): unknown => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
const boolish = (v: unknown): unknown => (v === 'true' ? true : v === 'false' ? false : v);
const listish = (v: unknown): unknown =>
  typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter((x) => x !== '') : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x.trim() : x)) : v;

const num = (what = 'a number'): z.ZodNumber => z.number({ error: `expected ${what}` });
const bool = (): z.ZodType<boolean> => z.preprocess(boolish, z.boolean({ error: 'expected true or false' }));
const text = (): z.ZodString => z.string({ error: 'expected a text value' }).min(1, { error: 'must not be empty' });
const list = (): z.ZodType<string[]> =>
  z.preprocess(listish, z.array(z.string({ error: 'expected names' }), { error: 'expected a comma-separated list' }).min(1, { error: 'must name at least one' }));
const int = (min: number, why = `at least ${min}`): z.ZodType<number> =>
  z.preprocess(numeric, num('a whole number').int({ error: 'expected a whole number' }).min(min, { error: `must be ${why}` }));
const positive = (): z.ZodType<number> => z.preprocess(numeric, num().positive({ error: 'must be greater than 0' }));
const fraction = (): z.ZodType<number> => z.preprocess(numeric, num().min(0, { error: 'must be in [0, 1)' }).lt(1, { error: 'must be in [0, 1)' }));
const nonNegative = (): z.ZodType<number> => z.preprocess(numeric, num().min(0, { error: 'must be 0 or more' }));
const oneOf = <T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number]> =>
  z.enum(values, { error: `expected one of ${values.join(', ')}` });

const FINETUNING_TYPES = ['lora', 'full', 'freeze'] as const;
const LR_SCHEDULERS = ['cosine', 'linear', 'constant', 'constant_with_warmup'] as const;

/**
 * The supported keys. Defaults are LLaMA-Factory v0.9.1's and transformers'
 * TrainingArguments' unless noted; `device` and `media_dir` are this tool's.
 */
export const TRAIN_CONFIG_SHAPE = {
  // model
  model_name_or_path: text(),
  adapter_name_or_path: text().nullable().default(null),
  // method
  stage: z.literal('sft', { error: 'only sft (supervised fine-tuning) is supported' }).default('sft'),
  do_train: bool().default(true),
  finetuning_type: oneOf(FINETUNING_TYPES).default('lora'),
  lora_target: list().default(['all']),
  lora_rank: int(1).default(8),
  /** null: twice the rank (LLaMA-Factory). */
  lora_alpha: positive().nullable().default(null),
  lora_dropout: fraction().default(0),
  use_rslora: bool().default(false),
  create_new_adapter: bool().default(false),
  freeze_trainable_layers: z.preprocess(numeric, num('a whole number').int({ error: 'expected a whole number' }).refine((x) => x !== 0, { error: 'must not be 0 (positive: the last N layers; negative: the first N)' })).default(2),
  freeze_trainable_modules: list().default(['all']),
  freeze_extra_modules: list().nullable().default(null),
  freeze_vision_tower: bool().default(true),
  freeze_multi_modal_projector: bool().default(true),
  train_mm_proj_only: bool().default(false),
  // dataset
  dataset: list(),
  dataset_dir: text().default('data'),
  /** Folder image paths are relative to; default dataset_dir for named datasets, the file's folder for paths. */
  media_dir: text().nullable().default(null),
  template: z.string({ error: 'expected a template name' }).refine(isTemplateName, { error: `unknown template (known: ${templateNames().join(', ')})` }).default('auto'),
  cutoff_len: int(2).default(1024),
  max_samples: int(1).nullable().default(null),
  train_on_prompt: bool().default(false),
  // output
  output_dir: text(),
  overwrite_output_dir: bool().default(false),
  /** A whole number of steps, or below 1 a share of the total (transformers). */
  logging_steps: positive().default(500),
  save_steps: positive().default(500),
  save_strategy: oneOf(['steps', 'epoch', 'no'] as const).default('steps'),
  save_total_limit: int(1).nullable().default(null),
  resume_from_checkpoint: z.union([z.preprocess(boolish, z.boolean()), text()], { error: 'expected true, false or a checkpoint folder' }).nullable().default(null),
  // train
  per_device_train_batch_size: int(1).default(8),
  gradient_accumulation_steps: int(1).default(1),
  learning_rate: positive().default(5e-5),
  num_train_epochs: positive().default(3),
  /** transformers: a positive number overrides num_train_epochs; -1: off. */
  max_steps: z.preprocess(numeric, num('a whole number').int({ error: 'expected a whole number' }).refine((x) => x === -1 || x > 0, { error: 'must be -1 (off) or a positive number of steps' })).default(-1),
  lr_scheduler_type: oneOf(LR_SCHEDULERS).default('linear'),
  warmup_ratio: fraction().default(0),
  warmup_steps: int(0).default(0),
  weight_decay: nonNegative().default(0),
  adam_beta1: fraction().default(0.9),
  adam_beta2: fraction().default(0.999),
  adam_epsilon: positive().default(1e-8),
  max_grad_norm: nonNegative().default(1),
  group_by_length: bool().default(false),
  seed: int(0).default(42),
  bf16: bool().default(false),
  fp16: bool().default(false),
  /** auto: CUDA when libtorch has it and a GPU is visible, else CPU. */
  device: oneOf(['auto', 'cpu', 'cuda'] as const).default('auto'),
};

/** A validated configuration, keys as LLaMA-Factory writes them, every default filled in. */
export type TrainConfig = z.output<z.ZodObject<typeof TRAIN_CONFIG_SHAPE>>;

/** Keys accepted and ignored: `true` always, or a test of the value that is harmless. */
const IGNORED: Record<string, true | ((v: unknown) => boolean)> = {
  deepspeed: true,
  ddp_timeout: true,
  ddp_backend: true,
  ddp_find_unused_parameters: true,
  local_rank: true,
  preprocessing_num_workers: true,
  preprocessing_batch_size: true,
  dataloader_num_workers: true,
  dataloader_pin_memory: true,
  dataloader_persistent_workers: true,
  overwrite_cache: true,
  tokenized_path: true,
  cache_dir: true,
  plot_loss: true,
  report_to: true,
  run_name: true,
  logging_dir: true,
  logging_strategy: true,
  logging_first_step: true,
  disable_tqdm: true,
  include_num_input_tokens_seen: true,
  include_tokens_per_second: true,
  flash_attn: true,
  enable_liger_kernel: true,
  gradient_checkpointing: true,
  disable_gradient_checkpointing: true,
  use_fast_tokenizer: true,
  trust_remote_code: true,
  low_cpu_mem_usage: true,
  upcast_layernorm: true,
  upcast_lmhead_output: true,
  tf32: true,
  torch_compile: true,
  save_safetensors: (v) => v !== false && v !== 'false',
  save_only_model: true,
  print_param_status: true,
  do_eval: true,
  do_predict: (v) => v === false || v === 'false',
  eval_strategy: true,
  evaluation_strategy: true,
  eval_steps: true,
  per_device_eval_batch_size: true,
  predict_with_generate: (v) => v === false || v === 'false',
  compute_accuracy: true,
  val_size: (v) => Number(v) === 0,
  mix_strategy: (v) => v === 'concat',
  streaming: (v) => v === false || v === 'false',
  packing: (v) => v === false || v === 'false',
  neat_packing: (v) => v === false || v === 'false',
  mask_history: (v) => v === false || v === 'false',
  quantization_bit: (v) => v === null,
  use_dora: (v) => v === false || v === 'false',
  pissa_init: (v) => v === false || v === 'false',
  use_unsloth: (v) => v === false || v === 'false',
  use_galore: (v) => v === false || v === 'false',
  use_badam: (v) => v === false || v === 'false',
  use_llama_pro: (v) => v === false || v === 'false',
  shift_attn: (v) => v === false || v === 'false',
  resize_vocab: (v) => v === false || v === 'false',
  rope_scaling: (v) => v === null,
  new_special_tokens: (v) => v === null,
  loraplus_lr_ratio: (v) => v === null,
  additional_target: (v) => v === null,
  data_seed: (v) => v === null,
  push_to_hub: (v) => v === false || v === 'false',
  optim: (v) => v === 'adamw_torch' || v === 'adamw_hf' || v === 'adamw_torch_fused',
};

/** Every key name the parser knows (supported or ignored), for suggestions. */
function knownTrainKeys(extra: readonly string[] = []): string[] {
  return [...Object.keys(TRAIN_CONFIG_SHAPE), ...extra, ...Object.keys(IGNORED)];
}

/** Levenshtein distance (for "did you mean"). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

function closest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export interface ParseTrainConfigOptions<E extends z.ZodRawShape> {
  /** More keys (validated the same way, returned with the rest), e.g. a defense's settings. */
  extraKeys?: E;
  /** Where the values came from, for messages (a file name, "flags"). */
  source?: string;
  /** Receives the one warning line about ignored keys (default: stderr). */
  warn?: (line: string) => void;
}

/**
 * Validates a configuration object (keys as LLaMA-Factory writes them).
 * Throws UserError naming the key and why for an unknown key (with the
 * closest known one), a refused value of an ignored key, or an invalid value;
 * names the ignored keys in one warning line.
 */
export function parseTrainConfig<E extends z.ZodRawShape = Record<never, never>>(raw: unknown, o: ParseTrainConfigOptions<E> = {}): TrainConfig & z.output<z.ZodObject<E>> {
  const where = o.source ? `${o.source}: ` : '';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${where}expected a mapping of LLaMA-Factory keys to values`);
  const extra = o.extraKeys ?? ({} as E);
  const shape = { ...TRAIN_CONFIG_SHAPE, ...extra };
  const supported: Record<string, unknown> = {};
  const ignored: string[] = [];
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (Object.hasOwn(shape, key)) {
      // null means "not set": the default applies
      if (value !== null) supported[key] = value;
      continue;
    }
    const rule = Object.hasOwn(IGNORED, key) ? IGNORED[key] : undefined;
    if (rule === undefined) {
      unknown.push(key);
      continue;
    }
    if (rule !== true && !rule(value)) throw new UserError(`${where}${key}: ${show(value)} is not supported by bdlab train (only its default is accepted)`);
    ignored.push(key);
  }
  if (unknown.length) {
    const known = knownTrainKeys(Object.keys(extra));
    const parts = unknown.map((k) => {
      const near = closest(k, known);
      return near ? `'${k}' (did you mean '${near}'?)` : `'${k}'`;
    });
    throw new UserError(`${where}unknown key${unknown.length > 1 ? 's' : ''} ${parts.join(', ')}`);
  }
  const r = z.object(shape).safeParse(supported);
  if (!r.success) {
    const problems = r.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const got = key in supported ? ` (got ${show(supported[key])})` : '';
      return `${key}: ${i.code === 'invalid_type' && supported[key] === undefined ? 'required' : i.message}${got}`;
    });
    throw new UserError(`${where}${problems.join('; ')}`);
  }
  const c = r.data as TrainConfig & z.output<z.ZodObject<E>>;
  if (!c.do_train) throw new UserError(`${where}do_train: false leaves nothing to do (bdlab train only trains)`);
  if (c.bf16 && c.fp16) throw new UserError(`${where}bf16 and fp16: choose one`);
  if (c.adapter_name_or_path?.includes(',')) throw new UserError(`${where}adapter_name_or_path: one adapter folder is supported (got a list)`);
  if (ignored.length) (o.warn ?? ((l) => process.stderr.write(`${l}\n`)))(`bdlab train: ignoring keys that do not change training here: ${ignored.join(', ')}`);
  return c;
}

/** Reads a YAML configuration file into a plain object (no validation). */
export function readYamlConfig(path: string): Record<string, unknown> {
  let textValue: string;
  try {
    textValue = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let v: unknown;
  try {
    v = parseYaml(textValue);
  } catch (e) {
    const line = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : '';
    throw new UserError(`${path}: not valid YAML${line} (${(e as Error).message.split('\n')[0]})`);
  }
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${path}: expected a mapping of keys to values at the top level`);
  return v as Record<string, unknown>;
}

/**
 * `--key value`, `--key=value` and bare `--flag` (true) arguments as a config
 * object; `--some-key` is `some_key`. Values stay text (the schema converts).
 * Returns the positional arguments too.
 */
export function parseConfigFlags(argv: readonly string[]): { flags: Record<string, unknown>; positional: string[] } {
  const flags: Record<string, unknown> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--') || a === '--') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = (eq < 0 ? a.slice(2) : a.slice(2, eq)).replace(/-/g, '_');
    if (name === '') throw new UserError(`bad argument '${a}'`);
    let value: unknown;
    if (eq >= 0) value = a.slice(eq + 1);
    else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) value = argv[++i];
    else value = true;
    if (Object.hasOwn(flags, name)) throw new UserError(`--${name} given twice`);
    flags[name] = value;
  }
  return { flags, positional };
}

/** A configuration from an optional YAML file and flags over it, validated. */
export function readTrainConfig<E extends z.ZodRawShape = Record<never, never>>(
  src: { file?: string | undefined; flags?: Record<string, unknown> },
  o: ParseTrainConfigOptions<E> = {},
): TrainConfig & z.output<z.ZodObject<E>> {
  const fromFile = src.file ? readYamlConfig(src.file) : {};
  const merged = { ...fromFile, ...(src.flags ?? {}) };
  const source = src.file ? (src.flags && Object.keys(src.flags).length ? `${src.file} + flags` : src.file) : 'flags';
  return parseTrainConfig(merged, { ...o, source: o.source ?? source });
}
