// Text generation for decoder LMs and LLaVA: prompts left-padded into one
// batch with an attention mask, a prefill pass that fills the KV cache, then
// one token per step for every row until each has hit EOS, a stop string or
// max new tokens. Positions count real tokens only, so a padded row computes
// exactly what it would alone.
import { cat, keep, noGrad, ones, scope, tensor, type Tensor } from '../engine/index.js';
import { KVCache } from './kv-cache.js';
import type { CausalLM } from './llama.js';
import { LlavaForConditionalGeneration } from './llava.js';
import { chooseToken, validateSampling, type SamplingOptions } from './sampling.js';
import { Rng } from '../util/rng.js';
import type { TextTokenizer } from './tokenizer.js';

export interface StreamEvent {
  row: number;
  tokenId: number;
  /** Newly decoded text (with a tokenizer). */
  text: string;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  seed?: number;
  /** Default: the model config's eos_token_id(s). */
  eosTokenIds?: number[];
  /** Padding id for the batch (never attended); default pad_token_id, else the first EOS, else 0. */
  padTokenId?: number;
  /** Stop a row once its decoded text contains one of these (needs a tokenizer). */
  stopStrings?: string[];
  tokenizer?: TextTokenizer;
  /** Called for every generated token of every row, in order. */
  onToken?: (e: StreamEvent) => void;
  /** LLaVA: preprocessed images [N, 3, H, W] for the image tokens of all prompts, in order. */
  pixelValues?: Tensor;
  /**
   * One random stream per row (sampling): a row then samples the same tokens
   * whatever batch it runs in. Default: one stream from `seed` for the batch.
   */
  rowRngs?: readonly Rng[];
  /** false: recompute the whole sequence each step (a check on the cache; slow). */
  useCache?: boolean;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateResult {
  /** Generated ids per row, without the prompt; EOS not included. */
  tokens: number[][];
  /** Decoded text per row, cut before a stop string (with a tokenizer). */
  texts: string[];
  finishReasons: FinishReason[];
}

/** Left-pads prompts into ids [B, T] and mask [B, T] (1 real, 0 pad). */
export function leftPad(prompts: readonly number[][], padId: number): { ids: number[][]; mask: number[][]; anyPadding: boolean } {
  const n = Math.max(...prompts.map((p) => p.length));
  return {
    ids: prompts.map((p) => [...Array<number>(n - p.length).fill(padId), ...p]),
    mask: prompts.map((p) => [...Array<number>(n - p.length).fill(0), ...Array<number>(p.length).fill(1)]),
    anyPadding: prompts.some((p) => p.length !== n),
  };
}

/** Replaces each image placeholder id with `n` copies (LLaVA's processor expansion). */
export function expandImageTokens(ids: readonly number[], imageTokenId: number, n: number): number[] {
  return ids.flatMap((i) => (i === imageTokenId ? Array<number>(n).fill(imageTokenId) : [i]));
}

export function generate(model: CausalLM, prompts: readonly number[][], o: GenerateOptions = {}): GenerateResult {
  if (prompts.length === 0) return { tokens: [], texts: [], finishReasons: [] };
  if (prompts.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token');
  validateSampling(o);
  const maxNew = o.maxNewTokens ?? 64;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new RangeError(`maxNewTokens must be a non-negative integer, got ${maxNew}`);
  if (o.stopStrings?.length && !o.tokenizer) throw new Error('generate: stop strings need a tokenizer');
  const cfg = model.textConfig;
  const eos = new Set(o.eosTokenIds ?? cfg.eosTokenIds);
  const padId = o.padTokenId ?? cfg.padTokenId ?? [...eos][0] ?? 0;
  const vocab = cfg.vocabSize;
  for (const p of prompts) {
    const bad = p.find((i) => !Number.isInteger(i) || i < 0 || i >= vocab);
    if (bad !== undefined) throw new RangeError(`generate: token id ${bad} is outside the vocabulary (size ${vocab})`);
  }
  const device = (model.parameters()[0]?.device ?? 'cpu') as 'cpu';
  const b = prompts.length;
  const rng = new Rng(o.seed ?? 0, 'sample-tokens');
  const useCache = o.useCache ?? true;
  const isLlava = model instanceof LlavaForConditionalGeneration;
  if (o.pixelValues && !isLlava) throw new Error('generate: images need a LLaVA model');
  if (o.rowRngs && o.rowRngs.length !== b) throw new Error(`generate: ${o.rowRngs.length} row generators for ${b} prompts`);

  const out: number[][] = prompts.map(() => []);
  const texts: string[] = prompts.map(() => '');
  const reasons: Array<FinishReason | null> = prompts.map(() => null);
  const padded = leftPad(prompts, padId);
  let allIds = padded.ids.map((r) => [...r]);
  const cache = useCache ? new KVCache(cfg.numHiddenLayers) : undefined;
  let mask = keep(tensor(padded.mask, { dtype: 'int64', device }));

  const step = (inputIds: number[][], withImages: boolean): Float32Array =>
    noGrad(() =>
      scope(() => {
        // ids straight from a typed array: one copy into libtorch, no float detour
        const ids = tensor(BigInt64Array.from(inputIds.flat(), (x) => BigInt(x)), { shape: [inputIds.length, (inputIds[0] as number[]).length], device });
        // without padding the mask is all ones: leave it out and save its per-step construction
        const inp = { inputIds: ids, attentionMask: padded.anyPadding ? mask : undefined, cache, logitsToKeep: 1 };
        const r = isLlava && withImages && o.pixelValues ? (model as LlavaForConditionalGeneration).forward({ ...inp, pixelValues: o.pixelValues }) : model.forward(inp);
        const last = r.logits.select(1, 0);
        const host = last.dtype === 'float32' && last.device === 'cpu' ? last.contiguous() : last.to({ dtype: 'float32', device: 'cpu' });
        return host.toArray() as Float32Array;
      }),
    );

  try {
    let logits = maxNew > 0 ? step(padded.ids, true) : new Float32Array(0);
    for (let t = 0; t < maxNew; t++) {
      const next: number[] = [];
      for (let r = 0; r < b; r++) {
        if (reasons[r]) {
          next.push(padId);
          continue;
        }
        const id = chooseToken(logits, r * vocab, vocab, o, o.rowRngs?.[r] ?? rng);
        next.push(id);
        if (eos.has(id)) {
          reasons[r] = 'eos';
          continue;
        }
        (out[r] as number[]).push(id);
        if (o.tokenizer) {
          const full = o.tokenizer.decode(out[r] as number[]);
          const delta = full.startsWith(texts[r] as string) ? full.slice((texts[r] as string).length) : full;
          texts[r] = full;
          o.onToken?.({ row: r, tokenId: id, text: delta });
          const hit = o.stopStrings?.find((s) => full.includes(s));
          if (hit !== undefined) {
            reasons[r] = 'stop';
            texts[r] = full.slice(0, full.indexOf(hit));
          }
        } else o.onToken?.({ row: r, tokenId: id, text: '' });
        if (!reasons[r] && (out[r] as number[]).length === maxNew) reasons[r] = 'length';
      }
      if (reasons.every((x) => x !== null) || t === maxNew - 1) break;
      allIds = allIds.map((row, r) => [...row, next[r] as number]);
      if (padded.anyPadding) {
        const grown = keep(noGrad(() => scope(() => cat([mask, ones([b, 1], { dtype: 'int64', device })], 1))));
        mask.dispose();
        mask = grown;
      }
      logits = useCache ? step(next.map((x) => [x]), false) : step(allIds, true);
    }
  } finally {
    mask.dispose();
    cache?.dispose();
  }
  return { tokens: out, texts, finishReasons: reasons.map((x) => x ?? 'length') };
}
