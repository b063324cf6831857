// Perplexity of a causal LM over texts: windows sorted by length and run in
// left-padded batches; the engine and the model loader load lazily, so the
// evaluation library stays usable without the native addon.
import type { Device, DType } from '../../engine/index.js';
import type { CausalLM } from '../../models/llama.js';
import { leftPad } from '../../models/generate.js';
import { resolveTemplate } from '../../models/prompt.js';
import type { TextTokenizer } from '../../models/tokenizer.js';
import { MAX_BOOTSTRAP } from '../../util/limits.js';
import { Progress } from '../../util/progress.js';
import { bootstrapNll } from '../stats/bootstrap.js';
import { encodeItem, type PerplexityItem } from './encode.js';
import { OVERFLOW_POLICIES, windows, type OverflowPolicy, type Window } from './windows.js';

export interface PerplexityOptions {
  /** Prompt template for instruction records (src/models/prompt.ts; default auto, as training). */
  template?: string;
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
  /** The template prompts were rendered with (auto resolved), or null when only plain texts were scored. */
  template: string | null;
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
 * Summed NLL of the scored tokens of each window in one forward pass: the
 * windows are left-padded, so every row's scored tokens end at the last
 * column and only the logits predicting them are kept.
 */
function scoreBatch(T: typeof import('../../engine/index.js'), model: CausalLM, batch: readonly Window[], padId: number, device: Device): number[] {
  const b = batch.length;
  const k = Math.max(...batch.map((j) => j.ids.length - j.first)); // scored positions kept per row
  const { ids, mask, anyPadding } = leftPad(
    batch.map((j) => j.ids),
    padId,
  );
  const len = (ids[0] as number[]).length;
  const targets = new BigInt64Array(b * k);
  batch.forEach((j, r) => {
    const scored = j.ids.length - j.first;
    for (let c = 0; c < scored; c++) targets[r * k + (k - scored) + c] = BigInt(j.ids[j.first + c]!);
  });
  const per = T.noGrad(() =>
    T.scope(() => {
      const inputIds = T.tensor(BigInt64Array.from(ids.flat(), (x) => BigInt(x)), { shape: [b, len], device });
      const attentionMask = anyPadding ? T.tensor(BigInt64Array.from(mask.flat(), (x) => BigInt(x)), { shape: [b, len], device }) : undefined;
      // logits at column t predict column t + 1: keep the k + 1 last, drop the very last
      const out = model.forward({ inputIds, attentionMask, logitsToKeep: k + 1 });
      const logits = out.logits.narrow(1, 0, k).float();
      const tgt = T.tensor(targets, { shape: [b, k], device });
      const picked = logits.gather(-1, tgt.unsqueeze(-1)).squeeze(-1);
      const nll = logits.logsumexp(-1).sub(picked);
      const host = nll.device === 'cpu' ? nll.contiguous() : nll.to({ device: 'cpu' });
      return host.toArray() as Float32Array;
    }),
  );
  return batch.map((j, r) => {
    let s = 0;
    for (let c = k - (j.ids.length - j.first); c < k; c++) s += per[r * k + c]!;
    return s;
  });
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
  const T = await import('../../engine/index.js');
  const cfg = resolvePerplexityOptions(model, o);
  const vocab = model.textConfig.vocabSize;
  const jobs: Job[] = [];
  let skipped = 0;
  let truncated = 0;
  let skippedTooLong = 0;
  let droppedTokens = 0;
  items.forEach((item, text) => {
    const seq = encodeItem(tok, item, o.template);
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
      const nll = scoreBatch(T, model, batch, tok.padTokenId ?? 0, device);
      let batchTok = 0;
      batch.forEach((j, r) => {
        const scored = j.ids.length - j.first;
        const s = nll[r]!;
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
    template: anyRecord ? resolveTemplate(tok, o.template).name : null,
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
  const { TextTokenizer } = await import('../../models/tokenizer.js');
  const { loadModel } = await import('../../models/load.js');
  const { checkLogitsOf } = await import('../../models/finite.js');
  const tok = TextTokenizer.load(dir);
  const { model } = loadModel(dir, { dtype: o.dtype, device: o.device });
  checkLogitsOf(model, dir);
  try {
    if (o.adapter) {
      const { loadAdapter } = await import('../../models/peft.js');
      loadAdapter(model, o.adapter);
    }
    return await perplexity(model, tok, items, o);
  } finally {
    model.dispose();
  }
}
