import { UserError } from '../../util/errors.js';
import { readJson, typeName } from '../io.js';
import { bleuStatsAll, corpusBleu } from './bleu.js';
import { ciderDEncoded } from './cider.js';
import { CorpusEncoder, encodeCorpus, type EncodedCorpus } from './corpus.js';
import { cocoTokenSpans } from './ptb-tokenizer.js';
import { rougeLEncoded } from './rouge.js';

/**
 * COCO caption files and the coco-caption evaluation over them
 * (pycocoevalcap's COCOEvalCap with `params['image_id'] = results' images`,
 * as its demo and every LVLM paper use it): the images scored are those with
 * a prediction; each needs references; one prediction per image.
 */

export type ImageId = number | string;

/** Scores in coco-caption's names for this project (CIDEr 0.87, not 87). */
export interface CaptionScores {
  'BLEU-1': number;
  'BLEU-2': number;
  'BLEU-3': number;
  'BLEU-4': number;
  CIDEr: number;
  'ROUGE-L': number;
  n: number;
}

export interface CaptionEvaluation {
  scores: CaptionScores;
  /** Per-image CIDEr-D and ROUGE-L, in input order. */
  perImage: { CIDEr: Float64Array; 'ROUGE-L': Float64Array };
}

/** How an error names record i ("pred.json: record 3", "refs.json: annotations[3]"); built only on failure. */
type Where = (i: number) => string;

function readImageId(v: unknown, where: Where, i: number): ImageId {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v !== '') return v;
  if (v === undefined) throw new UserError(`${where(i)}: missing field "image_id"`);
  throw new UserError(`${where(i)}: field "image_id" must be a number or a non-empty string, got ${typeName(v)}`);
}

function readCaption(v: unknown, where: Where, i: number): string {
  if (typeof v === 'string') return v;
  if (v === undefined) throw new UserError(`${where(i)}: missing field "caption"`);
  throw new UserError(`${where(i)}: field "caption" must be a string, got ${typeName(v)}`);
}

function asObject(v: unknown, where: Where, i: number): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${where(i)}: expected an object, got ${typeName(v)}`);
  return v as Record<string, unknown>;
}

export interface Prediction {
  image_id: ImageId;
  caption: string;
}

/** COCO results: `[{"image_id", "caption"}, ...]`, one per image. */
export function parsePredictions(value: unknown, path: string): Prediction[] {
  if (!Array.isArray(value)) throw new UserError(`${path}: expected a JSON array of {"image_id", "caption"}, got ${typeName(value)}`);
  if (value.length === 0) throw new UserError(`${path}: no predictions`);
  // a Map keeps 1 and "1" apart, as COCO (Python dict keys) does
  const firstAt = new Map<ImageId, number>();
  const where: Where = (i) => `${path}: record ${i}`;
  return value.map((rec, i) => {
    const o = asObject(rec, where, i);
    const image_id = readImageId(o.image_id, where, i);
    const caption = readCaption(o.caption, where, i);
    const first = firstAt.get(image_id);
    if (first !== undefined) {
      throw new UserError(`${where(i)}: second prediction for image_id ${JSON.stringify(image_id)} (first at record ${first}); coco-caption scores one caption per image`);
    }
    firstAt.set(image_id, i);
    return { image_id, caption };
  });
}

/**
 * COCO caption annotations: `{"annotations": [{"image_id", "caption"}, ...]}`
 * (other keys ignored); a bare array of annotations is accepted too.
 */
export function parseReferences(value: unknown, path: string): Map<ImageId, string[]> {
  let anns: unknown;
  let label: string;
  if (Array.isArray(value)) {
    anns = value;
    label = 'record';
  } else {
    const o = asObject(value, () => path, 0);
    anns = o.annotations;
    label = 'annotations';
    if (anns === undefined) throw new UserError(`${path}: missing field "annotations"`);
    if (!Array.isArray(anns)) throw new UserError(`${path}: field "annotations" must be an array, got ${typeName(anns)}`);
  }
  const out = new Map<ImageId, string[]>();
  const where: Where = (i) => (label === 'record' ? `${path}: record ${i}` : `${path}: annotations[${i}]`);
  (anns as unknown[]).forEach((rec, i) => {
    const a = asObject(rec, where, i);
    const k = readImageId(a.image_id, where, i);
    const caption = readCaption(a.caption, where, i);
    const list = out.get(k);
    if (list) list.push(caption);
    else out.set(k, [caption]);
  });
  if (out.size === 0) throw new UserError(`${path}: no reference captions`);
  return out;
}

/** Pairs each prediction with its image's references, or fails naming the record. */
function alignCaptions(
  preds: readonly Prediction[],
  refs: Map<ImageId, string[]>,
  predPath: string,
  refPath: string,
): { candidates: string[]; references: string[][] } {
  const candidates: string[] = [];
  const references: string[][] = [];
  preds.forEach((p, i) => {
    const r = refs.get(p.image_id);
    if (!r) {
      throw new UserError(`${predPath}: record ${i}: image_id ${JSON.stringify(p.image_id)} has no reference captions in ${refPath}`);
    }
    candidates.push(p.caption);
    references.push(r);
  });
  return { candidates, references };
}

/**
 * coco-caption BLEU-1..4, CIDEr-D and ROUGE-L of raw (untokenised) captions.
 * Each caption is tokenised and encoded right away, so no per-token strings
 * stay alive: the heap the garbage collector walks does not grow with the
 * corpus, which keeps the time linear.
 */
export function evaluateCaptions(candidates: readonly string[], references: readonly (readonly string[])[]): CaptionEvaluation {
  if (candidates.length !== references.length) {
    throw new RangeError(`${candidates.length} candidates but ${references.length} reference sets`);
  }
  if (candidates.length === 0) throw new RangeError('no captions to evaluate');
  let chars = 0;
  let sentences = 0;
  for (let i = 0; i < candidates.length; i++) {
    chars += candidates[i]!.length;
    sentences += 1 + references[i]!.length;
    for (const r of references[i]!) chars += r.length;
  }
  // about one token per 5 characters of caption text
  const enc = new CorpusEncoder(4, { sentences, tokens: Math.ceil(chars / 5) });
  for (let i = 0; i < candidates.length; i++) enc.addCaptions(candidates[i]!, references[i]!, cocoTokenSpans);
  return evaluateEncoded(enc.finish());
}

/** The same on captions already tokenised the coco-caption way. */
export function evaluateTokenized(
  candTok: readonly (readonly string[])[],
  refTok: readonly (readonly (readonly string[])[])[],
): CaptionEvaluation {
  if (candTok.length === 0) throw new RangeError('no captions to evaluate');
  return evaluateEncoded(encodeCorpus(candTok, refTok));
}

function evaluateEncoded(corpus: EncodedCorpus): CaptionEvaluation {
  const [b1, b2, b3, b4] = corpusBleu(bleuStatsAll(corpus)) as [number, number, number, number];
  const cider = ciderDEncoded(corpus);
  const rouge = rougeLEncoded(corpus);
  return {
    scores: { 'BLEU-1': b1, 'BLEU-2': b2, 'BLEU-3': b3, 'BLEU-4': b4, CIDEr: cider.score, 'ROUGE-L': rouge.score, n: corpus.images },
    perImage: { CIDEr: cider.perImage, 'ROUGE-L': rouge.perImage },
  };
}

/** Reads both files and evaluates: what `bdlab eval captions` does. */
export function evaluateCaptionFiles(
  predPath: string,
  refPath: string,
): CaptionEvaluation & { predictions: Prediction[]; annotationCount: number } {
  const predictions = parsePredictions(readJson(predPath), predPath);
  const refs = parseReferences(readJson(refPath), refPath);
  let annotationCount = 0;
  for (const list of refs.values()) annotationCount += list.length;
  const { candidates, references } = alignCaptions(predictions, refs, predPath, refPath);
  return { ...evaluateCaptions(candidates, references), predictions, annotationCount };
}
