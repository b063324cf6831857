import { extname } from 'node:path';
import { UserError } from '../util/errors.js';
import { DataError, typeName } from './errors.js';
import { isObject, type JsonObject, type Sample, type SampleId } from './sample.js';
import { scanJson, scanJsonl } from './json-stream.js';
import type { JsonEdit } from './json-edit.js';

/**
 * Dataset formats:
 * - `alpaca` / `alpaca-jsonl`: Alpaca / LLaMA-Factory records `{"instruction", "input", "output"}`
 *   (extra fields kept; an optional `image` string or `images` list gives the image);
 * - `llava` / `llava-jsonl`: LLaVA conversations `{"id", "image", "conversations": [{"from": "human",
 *   "value": "<image>\n..."}, {"from": "gpt", "value": ...}, ...]}` (the first human turn is the
 *   instruction, the gpt turn after it the answer);
 * - `coco`: COCO caption annotations `{"images": [{"id", "file_name"}], "annotations": [{"image_id",
 *   "caption"}], ...}` (one sample per image);
 * - `coco-results`: COCO caption results `[{"image_id", "caption"}]`.
 */
export type FormatName = 'alpaca' | 'alpaca-jsonl' | 'llava' | 'llava-jsonl' | 'coco' | 'coco-results';
export const FORMAT_NAMES: readonly FormatName[] = ['alpaca', 'alpaca-jsonl', 'llava', 'llava-jsonl', 'coco', 'coco-results'];

export type Schema = 'alpaca' | 'llava' | 'coco-results';

/** How one record maps to a sample and back. */
export interface RecordSchema {
  readonly name: Schema;
  /** Validates the record; throws DataError naming the field. */
  toSample(rec: unknown, index: number, file: string, line?: number): Sample;
  /**
   * The edits that carry a changed sample back into its record's original
   * text (json-edit.ts): one per changed field, so every other byte stays.
   */
  edits(rec: JsonObject, before: Sample, after: Sample): JsonEdit[];
}

function need(rec: JsonObject, field: string, file: string, index: number, line: number | undefined): string {
  const v = rec[field];
  if (v === undefined) throw new DataError(file, index, field, 'missing', line);
  if (typeof v !== 'string') throw new DataError(file, index, field, `expected a string, got ${typeName(v)}`, line);
  return v;
}

function optString(rec: JsonObject, field: string, file: string, index: number, line: number | undefined): string | undefined {
  const v = rec[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DataError(file, index, field, `expected a string, got ${typeName(v)}`, line);
  return v;
}

function objectOrFail(rec: unknown, file: string, index: number, line: number | undefined): JsonObject {
  if (!isObject(rec)) throw new DataError(file, index, null, `expected a JSON object, got ${typeName(rec)}`, line);
  return rec;
}

export const alpacaSchema: RecordSchema = {
  name: 'alpaca',
  toSample(raw, index, file, line) {
    const rec = objectOrFail(raw, file, index, line);
    const instruction = need(rec, 'instruction', file, index, line);
    const input = optString(rec, 'input', file, index, line) ?? '';
    const output = need(rec, 'output', file, index, line);
    let image = optString(rec, 'image', file, index, line);
    if (image === undefined && rec.images !== undefined) {
      const imgs = rec.images;
      if (!Array.isArray(imgs)) throw new DataError(file, index, 'images', `expected a list of paths, got ${typeName(imgs)}`, line);
      if (imgs.length > 0) {
        if (typeof imgs[0] !== 'string') throw new DataError(file, index, 'images[0]', `expected a string, got ${typeName(imgs[0])}`, line);
        image = imgs[0];
      }
    }
    const id: SampleId = typeof rec.id === 'string' || typeof rec.id === 'number' ? rec.id : index;
    const s: Sample = { index, id, instruction, input, output, fields: rec };
    if (image !== undefined) s.image = image;
    return s;
  },
  edits(rec, before, after) {
    const e: JsonEdit[] = [];
    if (after.instruction !== before.instruction) e.push({ path: ['instruction'], value: after.instruction });
    if (after.input !== before.input) e.push({ path: ['input'], value: after.input });
    if (after.output !== before.output) e.push({ path: ['output'], value: after.output });
    if (after.image !== before.image && after.image !== undefined) {
      e.push({ path: typeof rec.image === 'string' || !Array.isArray(rec.images) ? ['image'] : ['images', 0], value: after.image });
    }
    return e;
  },
};


/** Splits a LLaVA human turn into the `<image>` frame and the question text. */
export function splitImageToken(value: string): { prefix: string; text: string; suffix: string } {
  const pre = /^<image>[ \t]*\n?/.exec(value);
  if (pre) return { prefix: pre[0], text: value.slice(pre[0].length), suffix: '' };
  const suf = /\n?[ \t]*<image>$/.exec(value);
  if (suf) return { prefix: '', text: value.slice(0, value.length - suf[0].length), suffix: suf[0] };
  return { prefix: '', text: value, suffix: '' };
}

interface Turns {
  conv: JsonObject[];
  human: number;
  gpt: number;
}

function llavaTurns(rec: JsonObject, file: string, index: number, line: number | undefined): Turns {
  const conv = rec.conversations;
  if (conv === undefined) throw new DataError(file, index, 'conversations', 'missing', line);
  if (!Array.isArray(conv)) throw new DataError(file, index, 'conversations', `expected a list of turns, got ${typeName(conv)}`, line);
  let human = -1;
  let gpt = -1;
  for (let t = 0; t < conv.length; t++) {
    const turn = conv[t] as unknown;
    if (!isObject(turn)) throw new DataError(file, index, `conversations[${t}]`, `expected an object, got ${typeName(turn)}`, line);
    if (typeof turn.from !== 'string') throw new DataError(file, index, `conversations[${t}].from`, `expected a string, got ${typeName(turn.from)}`, line);
    if (typeof turn.value !== 'string') throw new DataError(file, index, `conversations[${t}].value`, `expected a string, got ${typeName(turn.value)}`, line);
    if (human < 0 && (turn.from === 'human' || turn.from === 'user')) human = t;
    else if (human >= 0 && gpt < 0 && (turn.from === 'gpt' || turn.from === 'assistant')) gpt = t;
  }
  if (human < 0) throw new DataError(file, index, 'conversations', 'no "human" turn', line);
  if (gpt < 0) throw new DataError(file, index, 'conversations', 'no "gpt" answer after the first "human" turn', line);
  return { conv: conv as JsonObject[], human, gpt };
}

export const llavaSchema: RecordSchema = {
  name: 'llava',
  toSample(raw, index, file, line) {
    const rec = objectOrFail(raw, file, index, line);
    const { conv, human, gpt } = llavaTurns(rec, file, index, line);
    const image = optString(rec, 'image', file, index, line);
    const id: SampleId = typeof rec.id === 'string' || typeof rec.id === 'number' ? rec.id : index;
    const q = splitImageToken((conv[human] as JsonObject).value as string);
    const s: Sample = { index, id, instruction: q.text, input: '', output: (conv[gpt] as JsonObject).value as string, fields: rec };
    if (image !== undefined) s.image = image;
    return s;
  },
  edits(rec, before, after) {
    const { conv, human, gpt } = llavaTurns(rec, '', 0, undefined);
    const e: JsonEdit[] = [];
    if (after.instruction !== before.instruction) {
      const q = splitImageToken((conv[human] as JsonObject).value as string);
      e.push({ path: ['conversations', human, 'value'], value: q.prefix + after.instruction + q.suffix });
    }
    if (after.output !== before.output) e.push({ path: ['conversations', gpt, 'value'], value: after.output });
    if (after.image !== before.image && after.image !== undefined) e.push({ path: ['image'], value: after.image });
    return e;
  },
};

const cocoResultsSchema: RecordSchema = {
  name: 'coco-results',
  toSample(raw, index, file, line) {
    const rec = objectOrFail(raw, file, index, line);
    const iid = rec.image_id;
    if (iid === undefined) throw new DataError(file, index, 'image_id', 'missing', line);
    if (typeof iid !== 'number' && typeof iid !== 'string') throw new DataError(file, index, 'image_id', `expected a number or string, got ${typeName(iid)}`, line);
    const caption = need(rec, 'caption', file, index, line);
    return { index, id: iid, instruction: '', input: '', output: caption };
  },
  edits(_rec, before, after) {
    return after.output !== before.output ? [{ path: ['caption'], value: after.output }] : [];
  },
};

export function schemaOf(f: FormatName): RecordSchema | null {
  if (f === 'alpaca' || f === 'alpaca-jsonl') return alpacaSchema;
  if (f === 'llava' || f === 'llava-jsonl') return llavaSchema;
  if (f === 'coco-results') return cocoResultsSchema;
  return null;
}

export function isJsonl(f: FormatName): boolean {
  return f === 'alpaca-jsonl' || f === 'llava-jsonl';
}

export function parseFormat(s: string): FormatName {
  if ((FORMAT_NAMES as readonly string[]).includes(s)) return s as FormatName;
  throw new UserError(`unknown --format "${s}"; one of: ${FORMAT_NAMES.join(', ')}`);
}

function schemaFromKeys(rec: unknown): 'alpaca' | 'llava' | 'coco-results' | null {
  if (!isObject(rec)) return null;
  if ('conversations' in rec) return 'llava';
  if ('instruction' in rec) return 'alpaca';
  if ('image_id' in rec && 'caption' in rec) return 'coco-results';
  return null;
}

/**
 * Detects the format from the extension (.jsonl) and the first record's keys
 * (`conversations` → llava, `instruction` → alpaca, `image_id`+`caption` →
 * coco-results; a top-level object with `annotations` → coco). Reads only the
 * start of the file.
 */
export function detectFormat(path: string): FormatName {
  if (extname(path).toLowerCase() === '.jsonl') {
    for (const l of scanJsonl(path)) {
      let rec: unknown;
      try {
        rec = JSON.parse(l.text);
      } catch {
        throw new UserError(`${path}: line ${l.line}: not valid JSON; cannot detect the format (give --format)`);
      }
      const s = schemaFromKeys(rec);
      if (s === 'alpaca') return 'alpaca-jsonl';
      if (s === 'llava') return 'llava-jsonl';
      throw new UserError(`${path}: cannot detect the format from the first record's keys (give --format)`);
    }
    throw new UserError(`${path}: empty JSONL file`);
  }
  const it = scanJson(path, { streamKeys: new Set(['images', 'annotations']) });
  let sawObjectMember = false;
  while (true) {
    const r = it.next();
    if (r.done) {
      if (r.value === 'array') throw new UserError(`${path}: empty JSON array; cannot detect the format (give --format)`);
      break;
    }
    const item = r.value;
    if (item.key === null) {
      let rec: unknown;
      try {
        rec = JSON.parse(item.text);
      } catch {
        throw new UserError(`${path}: record 0: not valid JSON; cannot detect the format (give --format)`);
      }
      const s = schemaFromKeys(rec);
      if (s === null) throw new UserError(`${path}: cannot detect the format from the first record's keys ${isObject(rec) ? JSON.stringify(Object.keys(rec)) : ''} (give --format)`);
      it.return('array');
      return s;
    }
    sawObjectMember = true;
    if (item.key === 'annotations' || item.key === 'images') {
      it.return('object');
      return 'coco';
    }
  }
  throw new UserError(`${path}: ${sawObjectMember ? 'a JSON object without "images"/"annotations"' : 'unrecognised content'}; cannot detect the format (give --format)`);
}
