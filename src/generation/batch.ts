// Batch generation in process: prompts sorted by length (longest first, so a
// batch too large for memory fails at once), left-padded batches through the
// KV-cached generator, images through the model's processor. Padding never
// changes a row's computation, so a record's output does not depend on the
// batch it ran in (up to the rounding of matrix kernels for another batch
// shape); sampling draws from a stream per record (seeded by its key) for the
// same reason.
import type { Device } from '../engine/index.js';
import { expandImageTokens, generate, type GenerateOptions } from '../models/generate.js';
import { defaultImageProcessorConfig, preprocessImages, type ImageProcessorConfig } from '../models/image-processor.js';
import type { CausalLM } from '../models/llama.js';
import { LlavaForConditionalGeneration } from '../models/llava.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { GenerationRecord } from './input.js';
import { preparePrompts, type PreparedPrompt } from './prepare.js';
import { answerOf, encodeRendered, type TemplateName } from './templates.js';

/** One generated record, as `--out` holds it (what `bdlab eval asr` reads). */
export interface GeneratedRecord {
  id?: string | number;
  instruction: string;
  input: string;
  output: string;
  image?: string;
  /** The template the prompt was rendered with. */
  template: string;
  /** eos | stop | length in process; what the server said for an endpoint (null if nothing). */
  finish_reason: string | null;
  /** Tokens generated (null when an endpoint does not report them). */
  new_tokens: number | null;
  /** sha256 of the rendered prompt and image (the key a re-run matches on). */
  prompt_sha256: string;
}

export interface SamplingSettings {
  /** Default 128, as the published evaluations. */
  maxNewTokens?: number;
  /** false (default): greedy. */
  doSample?: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stopStrings?: string[];
}

export interface BatchOptions extends SamplingSettings {
  /** Records per batch (default 8). */
  batchSize?: number;
  /** LLaVA: the image processor settings (default: CLIP's at the vision tower's size). */
  imageProcessor?: ImageProcessorConfig;
  device?: Device;
  /** After each batch: its records (in batch order) with their positions in the input list. */
  onBatch?: (done: Array<{ prepared: PreparedPrompt; result: GeneratedRecord }>) => void;
  /** Streaming: newly decoded text of a record (by position in the list). */
  onText?: (position: number, text: string) => void;
  /** More ids that end generation (generation_config.json's eos_token_id), besides the tokenizer's and config's. */
  extraEosTokenIds?: readonly number[];
}

export interface GenerateRecordsOptions extends BatchOptions {
  template?: TemplateName;
  system?: string;
}

export const DEFAULT_MAX_NEW_TOKENS = 128;

/** The record `--out` holds for a prepared prompt and its answer. */
export function generatedRecord(p: PreparedPrompt, output: string, finishReason: string | null, newTokens: number | null): GeneratedRecord {
  const r = p.record;
  return {
    ...(r.id !== undefined ? { id: r.id } : {}),
    instruction: r.instruction,
    input: r.input,
    output,
    ...(r.image !== undefined ? { image: r.image } : {}),
    template: p.prompt.template,
    finish_reason: finishReason,
    new_tokens: newTokens,
    prompt_sha256: p.promptSha256,
  };
}

/** A record's own random stream for sampling (the one seeded RNG). */
export function recordRng(seed: number, key: string): Rng {
  return new Rng(seed, 'generate', key);
}

/** Token ids of every prepared prompt (image placeholders expanded for LLaVA), checked against the model. */
function encodeAll(model: CausalLM, tok: TextTokenizer, prepared: readonly PreparedPrompt[], maxNew: number): number[][] {
  const llava = model instanceof LlavaForConditionalGeneration ? model : null;
  const maxPos = model.textConfig.maxPositionEmbeddings;
  return prepared.map((p) => {
    if (p.record.imagePath !== undefined && !llava) throw new UserError(`record ${p.record.index} has an image, but the model is not a LLaVA model`);
    let ids = encodeRendered(tok, p.prompt);
    if (llava) {
      const n = ids.filter((i) => i === llava.config.imageTokenId).length;
      if (n !== (p.record.imagePath !== undefined ? 1 : 0)) {
        throw new UserError(`record ${p.record.index}: the rendered prompt has ${n} image tokens for ${p.record.imagePath !== undefined ? 'one image' : 'no image'}`);
      }
      ids = expandImageTokens(ids, llava.config.imageTokenId, llava.imageSeqLength);
    }
    if (ids.length === 0) throw new UserError(`record ${p.record.index}: the prompt renders to no tokens`);
    if (ids.length + maxNew > maxPos) {
      throw new UserError(`record ${p.record.index}: the prompt is ${ids.length} tokens; with ${maxNew} new tokens it exceeds the model's max_position_embeddings (${maxPos})`);
    }
    return ids;
  });
}

/**
 * Generates for prepared prompts in length-sorted batches; returns the
 * records in the order given. `onBatch` sees each batch as it finishes.
 */
export async function generatePrepared(model: CausalLM, tok: TextTokenizer, prepared: readonly PreparedPrompt[], o: BatchOptions = {}): Promise<GeneratedRecord[]> {
  const maxNew = o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const batchSize = o.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  if (o.stopStrings?.length && prepared.some((p) => p.prompt.template === 'backdoorllm')) {
    throw new UserError('stop strings do not go with the backdoorllm template (the published evaluation has none)');
  }
  const ids = encodeAll(model, tok, prepared, maxNew);
  const llava = model instanceof LlavaForConditionalGeneration ? model : null;
  const processor = llava ? (o.imageProcessor ?? defaultImageProcessorConfig(llava.config.vision.imageSize)) : null;
  const order = prepared.map((_, i) => i).sort((a, b) => (ids[b] as number[]).length - (ids[a] as number[]).length || a - b);
  const eos = tok.eosTokenId;
  const stop = [...new Set([...(eos !== null ? [eos] : []), ...(o.extraEosTokenIds ?? []), ...model.textConfig.eosTokenIds])];
  const eosIds = stop.length ? stop : undefined;
  const results: GeneratedRecord[] = new Array(prepared.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize);
    const images = rows.map((i) => (prepared[i] as PreparedPrompt).record.imagePath).filter((x): x is string => x !== undefined);
    let pixelValues = processor && images.length ? await preprocessImages(images, processor) : undefined;
    if (pixelValues && o.device && o.device !== 'cpu') {
      const moved = pixelValues.to({ device: o.device });
      pixelValues.dispose();
      pixelValues = moved;
    }
    const g: GenerateOptions = {
      maxNewTokens: maxNew,
      doSample: o.doSample,
      temperature: o.temperature,
      topP: o.topP,
      topK: o.topK,
      stopStrings: o.stopStrings,
      tokenizer: tok,
      eosTokenIds: eosIds,
      padTokenId: tok.padTokenId ?? undefined,
      pixelValues,
      rowRngs: o.doSample ? rows.map((i) => recordRng(o.seed ?? 0, (prepared[i] as PreparedPrompt).key)) : undefined,
      onToken: o.onText ? (e) => o.onText?.(rows[e.row] as number, e.text) : undefined,
    };
    let r;
    try {
      r = generate(
        model,
        rows.map((i) => ids[i] as number[]),
        g,
      );
    } finally {
      pixelValues?.dispose();
    }
    const done = rows.map((i, k) => {
      const p = prepared[i] as PreparedPrompt;
      const gen = r.tokens[k] as number[];
      const output = answerOf(p.prompt.template, p.sample, () => tok.decode([...(ids[i] as number[]), ...gen], { skipSpecialTokens: true }), r.texts[k] as string);
      const result = generatedRecord(p, output, r.finishReasons[k] as string, gen.length);
      results[i] = result;
      return { prepared: p, result };
    });
    o.onBatch?.(done);
  }
  return results;
}

/**
 * The library entry point: renders the records with a template (default
 * `auto`, the training renderer) and generates for them in batches; returns
 * one record per input record, in order.
 */
export async function generateRecords(model: CausalLM, tok: TextTokenizer, records: readonly GenerationRecord[], o: GenerateRecordsOptions = {}): Promise<GeneratedRecord[]> {
  const prepared = preparePrompts(tok, records, { template: o.template ?? 'auto', system: o.system });
  return generatePrepared(model, tok, prepared, o);
}
