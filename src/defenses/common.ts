// What every defense shares: the clean data and its seeded validation split,
// the victim model (with the backdoor's adapter kept or merged), the clean
// loss every selection rule reads, and writing model folders.
import { resolve } from 'node:path';
import * as T from '../engine/index.js';
import type { ModelConfig } from '../models/config.js';
import type { CausalLM } from '../models/llama.js';
import type { AdapterConfig } from '../models/peft.js';
import type { InstructionSample } from '../models/prompt.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { collate, encodeExample, type Batch, type EncodedExample } from '../train/sft.js';
import { sftObjective } from '../train/trainer.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { DefenseInput } from './types.js';

export interface CleanData {
  paths: string[];
  sha256: string;
  samples: InstructionSample[];
}

/**
 * Clean instruction records from files or LLaMA-Factory dataset names (as
 * `bdlab train` reads them: Alpaca JSON/JSONL, dataset_info.json names);
 * text records only.
 */
export async function readCleanData(datasets: readonly string[], o: { datasetDir?: string; maxSamples?: number | null; cwd?: string } = {}): Promise<CleanData> {
  const { readTrainDataset, resolveDatasets } = await import('../train/data.js');
  const loaded = resolveDatasets({ dataset: [...datasets], dataset_dir: o.datasetDir ?? '.', media_dir: null }, o.cwd).map((s) => readTrainDataset(s, o.maxSamples ?? null));
  const samples = loaded.flatMap((l) => l.samples);
  if (samples.some((s) => s.image !== undefined)) throw new UserError(`${datasets.join(', ')}: the clean records have images; the defenses work on text records`);
  if (samples.length === 0) throw new UserError(`${datasets.join(', ')}: no clean records (expected Alpaca records {"instruction", "input", "output"})`);
  return { paths: loaded.map((l) => l.source.path), sha256: loaded.map((l) => l.sha256).join(','), samples };
}

export interface Split {
  train: InstructionSample[];
  validation: InstructionSample[];
}

/**
 * A seeded split of the clean records: round(n · ratio) for validation (at
 * least one when ratio > 0), the rest for the defense itself. The same seed
 * gives the same split.
 */
export function splitValidation(samples: readonly InstructionSample[], ratio: number, seed: number): Split {
  if (!(ratio >= 0 && ratio < 1)) throw new UserError(`validation share must be in [0, 1), got ${ratio}`);
  const n = samples.length;
  const nVal = ratio === 0 ? 0 : Math.max(1, Math.round(n * ratio));
  if (n - nVal < 1) throw new UserError(`${n} clean record(s) cannot give both a validation split (${nVal}) and data to defend with; give more data or a smaller validation share`);
  const order = new Rng(seed, 'defense-validation').permutation(n);
  const pick = (idx: ArrayLike<number>): InstructionSample[] => Array.from(idx, (i) => samples[i] as InstructionSample);
  return { validation: pick(order.subarray(0, nVal)), train: pick(order.subarray(nVal)) };
}

export interface Victim {
  model: CausalLM;
  tok: TextTokenizer;
  config: ModelConfig;
  /** The backdoor adapter's config when one was loaded. */
  adapter: AdapterConfig | null;
  /** Whether that adapter was folded into the weights. */
  merged: boolean;
  /** The dtype the model folder stores (model folders are written back in it). */
  storedDtype: T.DType;
}

const STORED: readonly T.DType[] = ['float32', 'float16', 'bfloat16'];

/**
 * Loads the model folder (and the adapter: kept as LoRA layers, or merged
 * into the weights). Every parameter starts frozen.
 */
export async function loadVictim(input: Pick<DefenseInput, 'model' | 'adapter' | 'device' | 'dtype'>, o: { mergeAdapter: boolean }): Promise<Victim> {
  const { loadModel } = await import('../models/load.js');
  const { loadAdapter } = await import('../models/peft.js');
  const { mergeLora } = await import('../nn/adapters.js');
  const { TextTokenizer } = await import('../models/tokenizer.js');
  const tok = TextTokenizer.load(resolve(input.model));
  const { model, config } = loadModel(resolve(input.model), { dtype: input.dtype, device: input.device });
  try {
    let adapter: AdapterConfig | null = null;
    if (input.adapter) adapter = loadAdapter(model, resolve(input.adapter));
    if (adapter && o.mergeAdapter) mergeLora(model);
    model.requiresGrad_(false);
    const raw = (config.modelType === 'llava' ? config.text.raw : config.raw).torch_dtype;
    const storedDtype = STORED.includes(raw as T.DType) ? (raw as T.DType) : 'float32';
    return { model, tok, config, adapter, merged: Boolean(adapter && o.mergeAdapter), storedDtype };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** One value of a batch (a loss), with its weight (answer tokens). */
export type BatchValue = (model: CausalLM, batch: Batch) => { value: number; weight: number };

/** The plain LM loss on a batch (mean NLL per answer token), without gradients. */
export const lmValue: BatchValue = (model, batch) =>
  T.noGrad(() => {
    const r = sftObjective(model, batch);
    return { value: r.loss.item(), weight: r.weight };
  });

export interface EvalOptions {
  /** Tokens per record, answers cut first (as training cuts). */
  maxLength: number;
  /** Prompt template (src/models/prompt.ts), as the victim was trained. */
  template: string;
  batchSize?: number;
}

/**
 * The answer-token-weighted mean of `value` over records, encoded as training
 * encodes them, in batches, in evaluation mode. With lmValue this is the
 * clean loss (mean NLL per answer token, nats) every selection rule reads.
 */
export function meanValue(model: CausalLM, tok: TextTokenizer, samples: readonly InstructionSample[], value: BatchValue, o: EvalOptions): number | null {
  if (samples.length === 0) return null;
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const device = (model.parameters()[0]?.device ?? 'cpu') as T.Device;
  const enc: EncodedExample[] = samples.map((s) => encodeExample(tok, s, o.maxLength, { template: o.template }));
  const size = o.batchSize ?? 8;
  const was = model.training;
  model.train(false);
  let sum = 0;
  let weight = 0;
  try {
    for (let i = 0; i < enc.length; i += size) {
      const r = T.scope(() => value(model, collate(enc.slice(i, i + size), pad, device)));
      if (r.weight === 0) continue;
      sum += r.value * r.weight;
      weight += r.weight;
    }
  } finally {
    model.train(was);
  }
  return weight > 0 ? sum / weight : null;
}

/** The clean loss: mean NLL per answer token (nats) of the records. */
export function cleanLoss(model: CausalLM, tok: TextTokenizer, samples: readonly InstructionSample[], o: EvalOptions): number | null {
  return meanValue(model, tok, samples, lmValue, o);
}

/** Writes the (defended) model as a complete Hugging Face folder in the input's stored dtype, tokenizer files copied. */
export async function saveModelFolder(v: Victim, source: string, out: string): Promise<void> {
  const { saveModel } = await import('../models/load.js');
  const { copyTokenizerFiles } = await import('../models/files.js');
  T.noGrad(() => saveModel(v.model, v.config, out, { dtype: v.storedDtype }));
  copyTokenizerFiles(resolve(source), out);
}

/**
 * The selection rule over an increasing grid (of sparsities, bit savings...):
 * walks up the grid and stops at the first value `ok` refuses; the chosen
 * value is the last accepted one (null when the first is refused).
 */
export async function largestWithin<V>(grid: readonly V[], ok: (v: V) => Promise<boolean>): Promise<{ chosen: V | null; tried: V[] }> {
  let chosen: V | null = null;
  const tried: V[] = [];
  for (const v of grid) {
    tried.push(v);
    if (!(await ok(v))) break;
    chosen = v;
  }
  return { chosen, tried };
}
