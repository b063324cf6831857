// Clean utility of a language model as perplexity over a text set: the
// token-weighted exp(mean negative log-likelihood) of plain texts, or of the
// answers of instruction records given their prompts (rendered with the same
// template as training, src/models/prompt.ts).
//
// This module imports the engine and the model loader lazily (inside the
// async functions), so the evaluation library stays usable without the
// native addon; the functions that take a model run with the engine the
// model was built with.
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import type { Device, DType } from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { encodePrompt } from '../models/prompt.js';
import { UserError } from '../util/errors.js';
import { MAX_BOOTSTRAP } from '../util/limits.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { optionalStringField, readRecords, readText, recordAt, stringField, typeName } from './io.js';

// ---- inputs -------------------------------------------------------------------

/** An instruction record: its `output` is scored, conditioned on the prompt from `instruction` and `input`. */
export interface PerplexityRecord {
  instruction: string;
  input?: string;
  output: string;
}

/** A text to score: plain text (every token after the first), or an instruction record (the answer tokens). */
export type PerplexityItem = string | PerplexityRecord;

/** Token ids of one text and where its scored tokens start: ids[first..] are predicted and scored (first ≥ 1). */
export interface ScoredSequence {
  ids: number[];
  first: number;
}

/** True when there is nothing to score: the text (or the record's output) is empty or whitespace only. */
export function isEmptyItem(item: PerplexityItem): boolean {
  return (typeof item === 'string' ? item : item.output).trim() === '';
}

/**
 * Token ids of an item, or null when it has nothing to score.
 *
 * - Plain text: the tokenizer's encoding with its special tokens (BOS for
 *   Llama-style tokenizers); every token after the first is scored, so with a
 *   BOS every text token counts. No EOS is added.
 * - Instruction record: exactly what training sees (encodeExample in
 *   src/train/sft.ts): the prompt from renderPrompt (chat template with the
 *   assistant turn opened, or the Alpaca template), then the answer's tokens
 *   and EOS; the answer tokens and the EOS are scored, the prompt never.
 */
export function encodeItem(tok: TextTokenizer, item: PerplexityItem): ScoredSequence | null {
  if (isEmptyItem(item)) return null;
  if (typeof item === 'string') {
    const ids = tok.encode(item);
    return ids.length >= 2 ? { ids, first: 1 } : null;
  }
  const prompt = encodePrompt(tok, item);
  const eos = tok.eosTokenId;
  const answer = [...tok.encode(item.output, { addSpecialTokens: false }), ...(eos === null ? [] : [eos])];
  if (answer.length === 0) return null;
  // a template that renders to nothing leaves the first answer token without context
  return { ids: [...prompt, ...answer], first: Math.max(1, prompt.length) };
}

// ---- windows --------------------------------------------------------------------

/** What happens to sequences longer than maxLength. */
export const OVERFLOW_POLICIES = ['window', 'truncate'] as const;
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

/** One forward pass's worth of a sequence: ids[first..] are scored. */
export interface Window {
  ids: number[];
  first: number;
}

/**
 * Splits a sequence into windows of at most maxLength tokens.
 *
 * - `window` (strided sliding windows, as in Hugging Face's "perplexity of
 *   fixed-length models"): the scored span is cut into chunks of `stride`
 *   tokens (the first chunk runs up to maxLength when the sequence starts
 *   there); each chunk is scored in a window that ends with it and reaches
 *   back as far as maxLength allows. Every scored token is scored exactly once
 *   and sees at least maxLength − stride tokens of context (all of them when
 *   fewer precede it). A prompt longer than the window loses its start.
 * - `truncate`: the first maxLength tokens only (as training cuts examples);
 *   tokens beyond are not scored.
 */
export function windows(seq: ScoredSequence, maxLength: number, stride: number, policy: OverflowPolicy): Window[] {
  const n = seq.ids.length;
  if (n <= maxLength) return [{ ids: seq.ids, first: seq.first }];
  if (policy === 'truncate') return seq.first < maxLength ? [{ ids: seq.ids.slice(0, maxLength), first: seq.first }] : [];
  const out: Window[] = [];
  let s = seq.first;
  let e = Math.min(n, Math.max(maxLength, s + stride));
  for (;;) {
    const start = Math.max(0, e - maxLength);
    out.push({ ids: seq.ids.slice(start, e), first: s - start });
    if (e >= n) break;
    s = e;
    e = Math.min(n, s + stride);
  }
  return out;
}

// ---- statistics -------------------------------------------------------------------

/** Quantile with linear interpolation between order statistics (numpy's default), of sorted values. */
function quantileSorted(xs: Float64Array, q: number): number {
  const pos = (xs.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, xs.length - 1);
  return xs[lo]! + (xs[hi]! - xs[lo]!) * (pos - lo);
}

/**
 * Percentile bootstrap over texts of the corpus mean NLL per token: resample
 * the texts with replacement, recompute Σ nll / Σ tokens, take the 2.5 % and
 * 97.5 % quantiles. Texts are the sampling unit (tokens within a text are not
 * independent). Null with fewer than two texts.
 */
export function bootstrapNll(nll: readonly number[], tokens: readonly number[], resamples: number, seed: number): [number, number] | null {
  const n = nll.length;
  if (n < 2 || resamples < 1) return null;
  const rng = new Rng(seed, 'perplexity-bootstrap');
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    let t = 0;
    for (let i = 0; i < n; i++) {
      const j = rng.int(n);
      s += nll[j]!;
      t += tokens[j]!;
    }
    means[b] = s / t;
  }
  means.sort();
  return [quantileSorted(means, 0.025), quantileSorted(means, 0.975)];
}

// ---- scoring ----------------------------------------------------------------------

export interface PerplexityOptions {
  /** Windows per forward pass (default 8). */
  batchSize?: number;
  /** Longest window in tokens (default: the model's max_position_embeddings, at most 2048). */
  maxLength?: number;
  /** New tokens scored per sliding window (default maxLength / 2); 1 ≤ stride < maxLength. */
  stride?: number;
  /** Sequences longer than maxLength: strided windows (default) or cut. */
  overflow?: OverflowPolicy;
  /** Bootstrap resamples over texts for the 95 % interval (default 1000; 0 = none). */
  bootstrap?: number;
  /** Seed of the bootstrap (default 0). */
  seed?: number;
  /** Progress bar label (stderr; BDLAB_PROGRESS=0 silences it); false for none. */
  progress?: string | false;
}

/** One scored text. */
export interface TextPerplexity {
  /** Index of the text in the input list. */
  index: number;
  /** Scored tokens. */
  tokens: number;
  /** Summed negative log-likelihood in nats. */
  nll: number;
  perplexity: number;
}

export interface PerplexityResult {
  /** exp(total NLL / total tokens); null when nothing was scored. */
  perplexity: number | null;
  /** Mean NLL per scored token in nats (= log perplexity). */
  nll: number | null;
  /** Scored tokens over all texts. */
  tokens: number;
  /** Texts scored. */
  texts: number;
  /** Texts with nothing to score (empty or whitespace only). */
  skipped: number;
  /** Texts longer than maxLength (windowed, or cut with `truncate`). */
  truncated: number;
  /** `truncate` only: texts whose prompt alone fills maxLength, so nothing was scored. */
  skippedTooLong: number;
  /** `truncate` only: scored tokens cut off. */
  droppedTokens: number;
  /** Forward windows run. */
  windows: number;
  /** Percentile-bootstrap 95 % intervals over texts; null with fewer than two texts. */
  ci95: { perplexity: [number, number]; nll: [number, number] } | null;
  perText: TextPerplexity[];
  /** What was used. */
  config: { maxLength: number; stride: number; overflow: OverflowPolicy; batchSize: number; bootstrap: number; seed: number };
  /** How prompts were rendered: 'chat_template', 'alpaca', or null when only plain texts were scored. */
  template: 'chat_template' | 'alpaca' | null;
}

function checkInt(name: string, v: number, min: number, max = Infinity): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer ${max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`}, got ${v}`);
  }
  return v;
}

/** The defaults filled in and checked against the model. */
export function resolvePerplexityOptions(model: CausalLM, o: PerplexityOptions = {}): PerplexityResult['config'] {
  const maxPos = model.textConfig.maxPositionEmbeddings;
  if (o.maxLength !== undefined && o.maxLength > maxPos) throw new RangeError(`max length ${o.maxLength} exceeds the model's max_position_embeddings (${maxPos})`);
  const maxLength = checkInt('max length', o.maxLength ?? Math.min(maxPos, 2048), 2);
  const stride = checkInt('stride', o.stride ?? Math.max(1, Math.floor(maxLength / 2)), 1, maxLength - 1);
  const overflow = o.overflow ?? 'window';
  if (!(OVERFLOW_POLICIES as readonly string[]).includes(overflow)) throw new RangeError(`overflow must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${JSON.stringify(overflow)}`);
  return {
    maxLength,
    stride,
    overflow,
    batchSize: checkInt('batch size', o.batchSize ?? 8, 1),
    bootstrap: checkInt('bootstrap resamples', o.bootstrap ?? 1000, 0, MAX_BOOTSTRAP),
    seed: checkInt('seed', o.seed ?? 0, 0),
  };
}

interface Job extends Window {
  text: number;
}

/**
 * Perplexity of a causal LM over texts (see encodeItem for what is scored and
 * windows() for long texts). Windows are sorted by length and left-padded
 * into batches with an attention mask; positions count real tokens only, so
 * a padded window scores what it would alone. Logits are kept only for the
 * positions that predict scored tokens, and each token's NLL is
 * logsumexp(logits) − logit[target] in float32, summed per text in float64.
 * Runs without gradients, each batch inside scope().
 */
export async function perplexity(model: CausalLM, tok: TextTokenizer, items: readonly PerplexityItem[], o: PerplexityOptions = {}): Promise<PerplexityResult> {
  const T = await import('../engine/index.js');
  const cfg = resolvePerplexityOptions(model, o);
  const vocab = model.textConfig.vocabSize;
  const jobs: Job[] = [];
  let skipped = 0;
  let truncated = 0;
  let skippedTooLong = 0;
  let droppedTokens = 0;
  items.forEach((item, text) => {
    const seq = encodeItem(tok, item);
    if (!seq) {
      skipped++;
      return;
    }
    const bad = seq.ids.find((id) => id < 0 || id >= vocab);
    if (bad !== undefined) throw new RangeError(`token id ${bad} is outside the model's vocabulary (size ${vocab}): the tokenizer does not match the model`);
    if (seq.ids.length > cfg.maxLength) {
      truncated++;
      if (cfg.overflow === 'truncate') {
        droppedTokens += seq.ids.length - Math.max(seq.first, cfg.maxLength);
        if (seq.first >= cfg.maxLength) skippedTooLong++;
      }
    }
    for (const w of windows(seq, cfg.maxLength, cfg.stride, cfg.overflow)) jobs.push({ ...w, text });
  });
  // longest first: padding stays small, and a batch too large for memory fails at once
  jobs.sort((a, b) => b.ids.length - a.ids.length || a.text - b.text);

  const nllOf = new Float64Array(items.length);
  const tokOf = new Float64Array(items.length);
  const device = (model.parameters()[0]?.device ?? 'cpu') as Device;
  const totalTokens = jobs.reduce((a, j) => a + j.ids.length - j.first, 0);
  const progress = o.progress === false ? null : new Progress({ label: o.progress ?? 'perplexity', total: totalTokens, unit: 'tok' });
  let doneNll = 0;
  let doneTok = 0;
  const wasTraining = model.training;
  model.train(false);
  try {
    for (let b0 = 0; b0 < jobs.length; b0 += cfg.batchSize) {
      const batch = jobs.slice(b0, b0 + cfg.batchSize);
      const b = batch.length;
      const len = batch[0]!.ids.length; // sorted: the first is the longest
      const k = Math.max(...batch.map((j) => j.ids.length - j.first)); // scored positions kept per row
      const ids = new BigInt64Array(b * len);
      const mask = new BigInt64Array(b * len);
      const targets = new BigInt64Array(b * k);
      let padded = false;
      batch.forEach((j, r) => {
        const off = len - j.ids.length; // left padding: every row's scored tokens end at the last column
        if (off > 0) padded = true;
        for (let c = 0; c < j.ids.length; c++) {
          ids[r * len + off + c] = BigInt(j.ids[c]!);
          mask[r * len + off + c] = 1n;
        }
        const scored = j.ids.length - j.first;
        for (let c = 0; c < scored; c++) targets[r * k + (k - scored) + c] = BigInt(j.ids[j.first + c]!);
      });
      const nll = T.noGrad(() =>
        T.scope(() => {
          const inputIds = T.tensor(ids, { shape: [b, len], device });
          const attentionMask = padded ? T.tensor(mask, { shape: [b, len], device }) : undefined;
          // logits at column t predict column t + 1: keep the k + 1 last, drop the very last
          const out = model.forward({ inputIds, attentionMask, logitsToKeep: k + 1 });
          const logits = out.logits.narrow(1, 0, k).float();
          const tgt = T.tensor(targets, { shape: [b, k], device });
          const picked = logits.gather(-1, tgt.unsqueeze(-1)).squeeze(-1);
          const per = logits.logsumexp(-1).sub(picked);
          const host = per.device === 'cpu' ? per.contiguous() : per.to({ device: 'cpu' });
          return host.toArray() as Float32Array;
        }),
      );
      let batchTok = 0;
      batch.forEach((j, r) => {
        const scored = j.ids.length - j.first;
        let s = 0;
        for (let c = k - scored; c < k; c++) s += nll[r * k + c]!;
        nllOf[j.text] = nllOf[j.text]! + s;
        tokOf[j.text] = tokOf[j.text]! + scored;
        doneNll += s;
        batchTok += scored;
      });
      doneTok += batchTok;
      progress?.tick(batchTok, `ppl ${Math.exp(doneNll / Math.max(doneTok, 1)).toFixed(3)}`);
    }
  } finally {
    model.train(wasTraining);
  }
  progress?.finish();

  const perText: TextPerplexity[] = [];
  let totalNll = 0;
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    if (tokOf[i]! === 0) continue;
    perText.push({ index: i, tokens: tokOf[i]!, nll: nllOf[i]!, perplexity: Math.exp(nllOf[i]! / tokOf[i]!) });
    totalNll += nllOf[i]!;
    total += tokOf[i]!;
  }
  const meanNll = total > 0 ? totalNll / total : null;
  const ci = bootstrapNll(
    perText.map((p) => p.nll),
    perText.map((p) => p.tokens),
    cfg.bootstrap,
    cfg.seed,
  );
  const anyRecord = items.some((x) => typeof x !== 'string');
  return {
    perplexity: meanNll === null ? null : Math.exp(meanNll),
    nll: meanNll,
    tokens: total,
    texts: perText.length,
    skipped,
    truncated,
    skippedTooLong,
    droppedTokens,
    windows: jobs.length,
    ci95: ci ? { perplexity: [Math.exp(ci[0]), Math.exp(ci[1])], nll: ci } : null,
    perText,
    config: cfg,
    template: anyRecord ? (tok.hasChatTemplate ? 'chat_template' : 'alpaca') : null,
  };
}

export interface FolderPerplexityOptions extends PerplexityOptions {
  dtype?: DType;
  device?: Device;
  /** A PEFT LoRA adapter folder to apply first. */
  adapter?: string;
}

/** Loads a Hugging Face model folder (and an adapter) and scores the items. */
export async function perplexityOfFolder(dir: string, items: readonly PerplexityItem[], o: FolderPerplexityOptions = {}): Promise<PerplexityResult> {
  const { TextTokenizer } = await import('../models/tokenizer.js');
  const { loadModel } = await import('../models/load.js');
  const { checkLogitsOf } = await import('../models/finite.js');
  const tok = TextTokenizer.load(dir);
  const { model } = loadModel(dir, { dtype: o.dtype, device: o.device });
  checkLogitsOf(model, dir);
  try {
    if (o.adapter) {
      const { loadAdapter } = await import('../models/peft.js');
      loadAdapter(model, o.adapter);
    }
    return await perplexity(model, tok, items, o);
  } finally {
    model.dispose();
  }
}

// ---- reading text sets --------------------------------------------------------------

export interface PerplexityData {
  path: string;
  items: PerplexityItem[];
  /** Records (or non-blank lines) read. */
  records: number;
  sha256: string;
  /** 'lines' for .txt; else the field scored and whether it is conditioned on the prompt. */
  format: 'lines' | 'records';
  field: string | null;
  conditioned: boolean;
}

/**
 * Reads a text set: a .txt file is one text per line (blank lines are
 * separators, not texts); JSON (an array) or JSONL holds records, and `field`
 * names the text. With field "output" (the default) and `conditioned`, each
 * record is an instruction record: "instruction" (string) and optional
 * "input" form the prompt and "output" is scored; any other field (or
 * conditioned false) is scored as plain text. Errors name the file, the
 * record (`record 3` or `line 4`) and the field.
 */
export function readPerplexityData(path: string, o: { field?: string; conditioned?: boolean } = {}): PerplexityData {
  if (extname(path).toLowerCase() === '.txt') {
    if (o.field !== undefined) throw new UserError(`${path}: a .txt file is one text per line; --field applies to JSON and JSONL records`);
    const text = readText(path, 'text');
    const items = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
    return { path, items, records: items.length, sha256: createHash('sha256').update(text).digest('hex'), format: 'lines', field: null, conditioned: false };
  }
  const field = o.field ?? 'output';
  const conditioned = field === 'output' && (o.conditioned ?? true);
  const file = readRecords(path);
  const items: PerplexityItem[] = [];
  for (let i = 0; i < file.records.length; i++) {
    if (!conditioned) {
      const r = recordAt(file, i);
      if (r[field] === undefined) throw new UserError(`${path}: ${file.where(i)}: missing field "${field}"${o.field === undefined ? ' (pick the text field with --field)' : ''}`);
      items.push(stringField(file, i, field));
      continue;
    }
    const r = recordAt(file, i);
    if (r.output === undefined) {
      throw new UserError(`${path}: ${file.where(i)}: missing field "output"${o.field === undefined ? ' (for plain texts pick the field with --field, e.g. --field text)' : ''}`);
    }
    const output = stringField(file, i, 'output');
    if (r.instruction === undefined) throw new UserError(`${path}: ${file.where(i)}: missing field "instruction" (the prompt the output is scored after; --no-prompt scores the output alone)`);
    if (typeof r.instruction !== 'string') throw new UserError(`${path}: ${file.where(i)}: field "instruction" must be a string, got ${typeName(r.instruction)}`);
    const input = optionalStringField(file, i, 'input');
    items.push({ instruction: r.instruction, ...(input !== undefined ? { input } : {}), output });
  }
  return { path, items, records: file.records.length, sha256: file.sha256, format: 'records', field, conditioned };
}
