// What to generate for: the records of an Alpaca / LLaMA-Factory file (JSON
// array or JSONL; `instruction`, optional `input`, `id`, `image`/`images`) or
// a LLaVA conversation file (`conversations`: the first human turn is the
// question; `image`). Answers in the file (`output`, the gpt turn) are not
// needed. A malformed record is a one-line error naming file, record and field.
import { basename, dirname, resolve } from 'node:path';
import { DataError, typeName } from '../data/errors.js';
import { detectFormat, isJsonl, splitImageToken, type FormatName } from '../data/formats.js';
import { scanJson, scanJsonl } from '../data/json-stream.js';
import { ImageRoot, imageProblem } from '../data/paths.js';
import { isObject, type JsonObject, type Sample } from '../data/sample.js';
import { UserError } from '../util/errors.js';

export interface GenerationRecord {
  /** 0-based position in the input. */
  index: number;
  /** The record's own `id`, when it has one. */
  id?: string | number;
  /** The question, without an `<image>` placeholder. */
  instruction: string;
  input: string;
  /** The image path as the file writes it (relative to the image root). */
  image?: string;
  /** The image file to read. */
  imagePath?: string;
  /** Where the `<image>` placeholder sits around the question in the user turn (default with an image: a line before it). */
  imageFrame?: { prefix: string; suffix: string };
}

const INPUT_FORMATS: readonly FormatName[] = ['alpaca', 'alpaca-jsonl', 'llava', 'llava-jsonl'];

function str(rec: JsonObject, field: string, file: string, index: number, line: number | undefined, required: boolean): string | undefined {
  const v = rec[field];
  if (v === undefined || v === null) {
    if (required) throw new DataError(file, index, field, 'missing', line);
    return undefined;
  }
  if (typeof v !== 'string') throw new DataError(file, index, field, `expected a string, got ${typeName(v)}`, line);
  return v;
}

function idOf(rec: JsonObject, file: string, index: number, line: number | undefined): string | number | undefined {
  const v = rec.id;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new DataError(file, index, 'id', `expected a string or number, got ${typeName(v)}`, line);
  return v;
}

function imageOf(rec: JsonObject, file: string, index: number, line: number | undefined): string | undefined {
  const one = str(rec, 'image', file, index, line, false);
  if (one !== undefined || rec.images === undefined || rec.images === null) return one;
  const imgs = rec.images;
  if (!Array.isArray(imgs)) throw new DataError(file, index, 'images', `expected a list of paths, got ${typeName(imgs)}`, line);
  if (imgs.length > 1) throw new DataError(file, index, 'images', `${imgs.length} images; generation takes one image per record`, line);
  if (imgs.length === 0) return undefined;
  if (typeof imgs[0] !== 'string') throw new DataError(file, index, 'images[0]', `expected a string, got ${typeName(imgs[0])}`, line);
  return imgs[0];
}

/** The question of a LLaVA record: its first human turn. */
function llavaQuestion(rec: JsonObject, file: string, index: number, line: number | undefined): string {
  const conv = rec.conversations;
  if (conv === undefined || conv === null) throw new DataError(file, index, 'conversations', 'missing', line);
  if (!Array.isArray(conv)) throw new DataError(file, index, 'conversations', `expected a list of turns, got ${typeName(conv)}`, line);
  for (let t = 0; t < conv.length; t++) {
    const turn = conv[t] as unknown;
    if (!isObject(turn)) throw new DataError(file, index, `conversations[${t}]`, `expected an object, got ${typeName(turn)}`, line);
    if (turn.from !== 'human' && turn.from !== 'user') continue;
    if (typeof turn.value !== 'string') throw new DataError(file, index, `conversations[${t}].value`, turn.value === undefined ? 'missing' : `expected a string, got ${typeName(turn.value)}`, line);
    return turn.value;
  }
  throw new DataError(file, index, 'conversations', 'no "human" turn', line);
}

/** One record of the file as a generation record (image paths resolved and checked). */
function toGenerationRecord(raw: unknown, schema: 'alpaca' | 'llava', file: string, index: number, root: ImageRoot, line?: number): GenerationRecord {
  if (!isObject(raw)) throw new DataError(file, index, null, `expected a JSON object, got ${typeName(raw)}`, line);
  const question = schema === 'llava' ? llavaQuestion(raw, file, index, line) : (str(raw, 'instruction', file, index, line, true) as string);
  const input = schema === 'alpaca' ? (str(raw, 'input', file, index, line, false) ?? '') : '';
  const image = imageOf(raw, file, index, line);
  const id = idOf(raw, file, index, line);
  const q = splitImageToken(question);
  const placeholder = q.prefix !== '' || q.suffix !== '';
  const where = schema === 'llava' ? 'conversations' : 'instruction';
  if (q.text.includes('<image>') || (placeholder && image === undefined)) {
    throw new DataError(file, index, where, image === undefined ? 'the question has an <image> placeholder but the record has no image' : 'one <image> placeholder is allowed, before or after the question', line);
  }
  const rec: GenerationRecord = { index, instruction: image === undefined ? question : q.text, input };
  if (id !== undefined) rec.id = id;
  if (image !== undefined) {
    const bad = imageProblem(root, image, file, index, raw.image !== undefined ? 'image' : 'images[0]', line);
    if (bad) throw bad;
    const r = root.check(image);
    rec.image = image;
    rec.imagePath = 'path' in r ? r.path : image;
    rec.imageFrame = placeholder ? { prefix: q.prefix, suffix: q.suffix } : { prefix: '<image>\n', suffix: '' };
  }
  return rec;
}

function parse(text: string, file: string, index: number, line?: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(file, index, null, `not valid JSON (${(e as Error).message.split('\n')[0]})`, line);
  }
}

export interface ReadInputOptions {
  /** Default: detected from the extension and the first record's keys. */
  format?: FormatName;
  /** Folder image paths are relative to (default: the input file's folder). */
  imageRoot?: string;
}

/** Reads every record of an input file; the first malformed one is the error. */
export function readGenerationInput(path: string, o: ReadInputOptions = {}): { format: FormatName; records: GenerationRecord[] } {
  const format = o.format ?? detectFormat(path);
  if (!INPUT_FORMATS.includes(format)) {
    throw new UserError(`${path}: ${format} files hold no instructions to generate for; give Alpaca/LLaMA-Factory or LLaVA records (${INPUT_FORMATS.join(', ')})`);
  }
  const schema = format.startsWith('llava') ? 'llava' : 'alpaca';
  const root = new ImageRoot(o.imageRoot ?? dirname(path));
  const records: GenerationRecord[] = [];
  if (isJsonl(format)) {
    for (const l of scanJsonl(path)) records.push(toGenerationRecord(parse(l.text, path, l.index, l.line), schema, path, l.index, root, l.line));
  } else {
    for (const item of scanJson(path)) {
      if (item.key !== null) throw new DataError(path, null, null, 'expected a JSON array of records at the top level, got an object');
      records.push(toGenerationRecord(parse(item.text, path, item.index), schema, path, item.index, root));
    }
  }
  return { format, records };
}

/** Records for prompts given on the command line (with an image each, for LLaVA); image paths are as given. */
export function promptRecords(prompts: readonly string[], images: readonly string[] = []): GenerationRecord[] {
  return prompts.map((p, index) => {
    const image = images[index];
    const q = splitImageToken(p);
    if (image === undefined) return { index, instruction: p, input: '' };
    const root = new ImageRoot(dirname(resolve(image)));
    const bad = imageProblem(root, basename(image), '--image', index, 'path');
    if (bad) throw new UserError(`--image ${image}: ${bad.reason}`);
    const placeholder = q.prefix !== '' || q.suffix !== '';
    return { index, instruction: q.text, input: '', image, imagePath: resolve(image), imageFrame: placeholder ? { prefix: q.prefix, suffix: q.suffix } : { prefix: '<image>\n', suffix: '' } };
  });
}

/**
 * Records for samples of a dataset read elsewhere (src/data: poisoned or
 * shifted sets); image paths are resolved under `imageRoot`.
 */
export function recordsFromSamples(samples: readonly Sample[], imageRoot?: string): GenerationRecord[] {
  const root = imageRoot !== undefined ? new ImageRoot(imageRoot) : null;
  return samples.map((s) => {
    const rec: GenerationRecord = { index: s.index, instruction: s.instruction, input: s.input };
    // the sample's id is its index when the record has none: keep only a real one
    if (!s.fields || s.fields.id !== undefined) rec.id = s.id;
    if (s.image !== undefined) {
      if (!root) throw new UserError(`sample ${s.index} has an image: give the image root`);
      const r = root.check(s.image);
      if ('refused' in r) throw new UserError(`sample ${s.index}: ${r.refused}`);
      rec.image = s.image;
      rec.imagePath = r.path;
    }
    return rec;
  });
}
