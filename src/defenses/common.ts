// What every defense shares: the clean data and its seeded validation split,
// the victim model (with the backdoor's adapter kept or merged), the clean
// validation loss every selection rule reads, and writing model folders.
import { resolve } from 'node:path';
import type { DType } from '../engine/index.js';
import type { ModelConfig } from '../models/config.js';
import type { CausalLM } from '../models/llama.js';
import type { AdapterConfig } from '../models/peft.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import type { InstructionSample } from '../train/prompt.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { DefenseInput } from './types.js';

export interface CleanData {
  path: string;
  sha256: string;
  samples: InstructionSample[];
}

/** Reads Alpaca-style records (instruction, optional input, output); errors name the file and record. */
export async function readCleanData(path: string): Promise<CleanData> {
  const { readPerplexityData } = await import('../eval/perplexity.js');
  const d = readPerplexityData(resolve(path));
  const samples = d.items.filter((x): x is InstructionSample & { output: string } => typeof x !== 'string');
  if (samples.length === 0) throw new UserError(`${path}: no clean records (expected a JSON array or JSONL of {"instruction", "input", "output"})`);
  return { path: resolve(path), sha256: d.sha256, samples };
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
  storedDtype: DType;
}

const STORED: readonly DType[] = ['float32', 'float16', 'bfloat16'];

/**
 * Loads the model folder (and the adapter: kept as LoRA layers, or merged
 * into the weights). Every parameter starts frozen.
 */
export async function loadVictim(input: DefenseInput, o: { mergeAdapter: boolean }): Promise<Victim> {
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
    const storedDtype = STORED.includes(raw as DType) ? (raw as DType) : 'float32';
    return { model, tok, config, adapter, merged: Boolean(adapter && o.mergeAdapter), storedDtype };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Clean loss of instruction records: the mean negative log-likelihood per
 * answer token (nats), prompts rendered as in training, sequences cut at
 * maxLength. Every selection rule of the catalogue reads this number.
 */
export async function validationLoss(model: CausalLM, tok: TextTokenizer, samples: readonly InstructionSample[], maxLength: number): Promise<number | null> {
  if (samples.length === 0) return null;
  const { perplexity } = await import('../eval/perplexity.js');
  const items = samples.map((s) => ({ instruction: s.instruction, input: s.input, output: s.output ?? '' }));
  const maxLen = Math.min(maxLength, model.textConfig.maxPositionEmbeddings);
  const r = await perplexity(model, tok, items, { bootstrap: 0, progress: false, maxLength: maxLen, stride: Math.max(1, maxLen - 1), overflow: 'truncate' });
  return r.nll;
}

/** Writes the (defended) model as a complete Hugging Face folder in the input's stored dtype, tokenizer files copied. */
export async function saveModelFolder(v: Victim, source: string, out: string): Promise<void> {
  const { saveModel } = await import('../models/load.js');
  const { copyTokenizerFiles } = await import('../models/files.js');
  const { noGrad } = await import('../engine/index.js');
  noGrad(() => saveModel(v.model, v.config, out, { dtype: v.storedDtype }));
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
