import { DataError, typeName, type OnError } from './errors.js';
import { UserError } from '../util/errors.js';
import { isJsonl, schemaOf, type FormatName, type RecordSchema } from './formats.js';
import { scanJson, scanJsonl } from './json-stream.js';
import { editJson, rawValue } from './json-edit.js';
import { exactNumber, stringifyJson, type JsonId } from './json-text.js';
import { isObject, samplesEqual, type JsonObject, type Sample } from './sample.js';
import { JsonArrayWriter, JsonlWriter, JsonObjectWriter, type StreamingFile } from './writer.js';

/**
 * Streaming access to a dataset file in any supported format: a validating
 * read pass (`readDataset`) and an order-preserving rewrite pass
 * (`rewriteDataset`) that sends each sample through an async transform with a
 * bounded number in flight and writes one or more outputs in the input's
 * format. Alpaca/LLaVA JSON and JSONL are never held whole in memory; COCO
 * caption files keep one entry per image (file name and captions).
 */

/** Where a record lives: the top-level list, or a COCO member array. */
export type Section = 'records' | 'images' | 'annotations';

export interface ReadItem {
  section: Section;
  index: number;
  line?: number;
  sample: Sample | null;
  /** The record's own id exactly as written (a number's text when printing it would change it); else its index. */
  id: JsonId;
  error: DataError | null;
}

function parseRecord(text: string, file: string, index: number, line?: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(file, index, null, `not valid JSON (${(e as Error).message.split('\n')[0]})`, line);
  }
}

/** The exact id of a record: numbers keep their source text when JavaScript would print them differently. */
function exactId(s: Sample, bytes: Buffer, field: string): JsonId {
  if (typeof s.id !== 'number' || !(s.fields && typeof s.fields[field] === 'number')) return s.id;
  // the common case needs no scan of the record: it begins with its id, written as JavaScript prints it
  if (beginsWithMember(bytes, field, String(s.id))) return s.id;
  return exactNumber(s.id, rawValue(bytes, [field]));
}

/** Whether a record's bytes begin `{"<key>":<text>` followed by `,` or `}`: its first member, written exactly so. */
function beginsWithMember(bytes: Buffer, key: string, text: string): boolean {
  const head = `{"${key}":${text}`;
  if (bytes.length <= head.length) return false;
  for (let i = 0; i < head.length; i++) if (bytes[i] !== head.charCodeAt(i)) return false;
  return bytes[head.length] === 0x2c || bytes[head.length] === 0x7d;
}

/** Validating read pass over every record. */
export function* readDataset(path: string, format: FormatName, onChunk?: (c: Buffer) => void): Generator<ReadItem> {
  if (format === 'coco') {
    yield* readCoco(path, onChunk);
    return;
  }
  const schema = schemaOf(format);
  if (!schema) throw new Error(`no schema for ${format}`);
  const idField = format === 'coco-results' ? 'image_id' : 'id';
  const source: Iterable<{ index: number; line?: number; text: string; bytes: Buffer }> = isJsonl(format) ? scanJsonl(path, { onChunk }) : topLevelRecords(path, onChunk);
  for (const l of source) {
    try {
      const rec = parseRecord(l.text, path, l.index, l.line);
      const sample = schema.toSample(rec, l.index, path, l.line);
      yield { section: 'records', index: l.index, line: l.line, sample, id: exactId(sample, l.bytes, idField), error: null };
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      yield { section: 'records', index: l.index, line: l.line, sample: null, id: l.index, error: e };
    }
  }
}

/** The elements of a top-level JSON array (an object is refused). */
function* topLevelRecords(path: string, onChunk?: (c: Buffer) => void): Generator<{ index: number; text: string; bytes: Buffer }> {
  for (const item of scanJson(path, { onChunk })) {
    if (item.key !== null) throw new DataError(path, null, null, 'expected a JSON array of records at the top level, got an object');
    yield item;
  }
}

interface CocoImage {
  id: number | string;
  /** identity of the id for matching annotations (exact for numbers beyond 2^53) */
  key: string;
  exact: JsonId;
  file: string;
}

/** How an image id is matched: strings by value, numbers by value when exact, else by their text. */
function idKey(v: number | string, bytes: Buffer, field: string): { key: string; exact: JsonId } {
  if (typeof v === 'string') return { key: `s${v}`, exact: v };
  if (Number.isSafeInteger(v)) return { key: `n${v}`, exact: exactNumber(v, rawValue(bytes, [field])) };
  const raw = rawValue(bytes, [field]) ?? String(v);
  return { key: `r${raw}`, exact: exactNumber(v, raw) };
}

/** idKey() from a read item's id (its value and exact text). */
function keyOfExact(v: number | string, exact: JsonId): string {
  if (typeof v === 'string') return `s${v}`;
  if (Number.isSafeInteger(v)) return `n${v}`;
  return `r${typeof exact === 'number' ? String(exact) : exact.toString()}`;
}

function cocoImage(raw: unknown, bytes: Buffer, path: string, index: number): CocoImage {
  if (!isObject(raw)) throw new DataError(path, index, 'images', `expected an object, got ${typeName(raw)}`);
  const id = raw.id;
  if (typeof id !== 'number' && typeof id !== 'string') throw new DataError(path, index, 'images[].id', id === undefined ? 'missing' : `expected a number or string, got ${typeName(id)}`);
  const file = raw.file_name;
  if (typeof file !== 'string') throw new DataError(path, index, 'images[].file_name', file === undefined ? 'missing' : `expected a string, got ${typeName(file)}`);
  return { id, ...idKey(id, bytes, 'id'), file };
}

function cocoAnnotation(raw: unknown, bytes: Buffer, path: string, index: number): { key: string; imageId: number | string; caption: string } {
  if (!isObject(raw)) throw new DataError(path, index, 'annotations', `expected an object, got ${typeName(raw)}`);
  const iid = raw.image_id;
  if (typeof iid !== 'number' && typeof iid !== 'string') throw new DataError(path, index, 'annotations[].image_id', iid === undefined ? 'missing' : `expected a number or string, got ${typeName(iid)}`);
  const cap = raw.caption;
  if (typeof cap !== 'string') throw new DataError(path, index, 'annotations[].caption', cap === undefined ? 'missing' : `expected a string, got ${typeName(cap)}`);
  return { key: idKey(iid, bytes, 'image_id').key, imageId: iid, caption: cap };
}

const COCO_KEYS = new Set(['images', 'annotations']);

function* readCoco(path: string, onChunk?: (c: Buffer) => void): Generator<ReadItem> {
  const images: (CocoImage | null)[] = [];
  const errors: ReadItem[] = [];
  const captions = new Map<string, string[]>();
  const firstWithKey = new Map<string, number>();
  const annErrors: ReadItem[] = [];
  const pendingAnns: { index: number; key: string; imageId: number | string }[] = [];
  let sawImages = false;
  let sawAnns = false;
  const it = scanJson(path, { streamKeys: COCO_KEYS, onChunk });
  while (true) {
    const r = it.next();
    if (r.done) {
      if (r.value !== 'object') throw new DataError(path, null, null, 'COCO caption annotations must be a JSON object with "images" and "annotations"');
      break;
    }
    const item = r.value;
    if (item.key === 'images' && item.kind === 'element') {
      sawImages = true;
      try {
        const img = cocoImage(parseRecord(item.text, path, item.index), item.bytes, path, item.index);
        const first = firstWithKey.get(img.key);
        if (first !== undefined) throw new DataError(path, item.index, 'images[].id', `image id ${stringifyJson(img.exact)} is also the id of images entry ${first}; COCO image ids must be unique`);
        firstWithKey.set(img.key, item.index);
        images.push(img);
        if (!captions.has(img.key)) captions.set(img.key, []);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        images.push(null);
        errors.push({ section: 'images', index: item.index, sample: null, id: item.index, error: e });
      }
    } else if (item.key === 'annotations' && item.kind === 'element') {
      sawAnns = true;
      try {
        const a = cocoAnnotation(parseRecord(item.text, path, item.index), item.bytes, path, item.index);
        let list = captions.get(a.key);
        if (!list) {
          list = [];
          captions.set(a.key, list);
          pendingAnns.push({ index: item.index, key: a.key, imageId: a.imageId });
        }
        list.push(a.caption);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        annErrors.push({ section: 'annotations', index: item.index, sample: null, id: item.index, error: e });
      }
    } else if ((item.key === 'images' || item.key === 'annotations') && item.kind === 'member') {
      throw new DataError(path, null, item.key, `expected a list, got ${item.text.trim().startsWith('{') ? 'object' : 'a scalar'}`);
    }
  }
  if (!sawImages && !images.length) {
    // an empty or missing images list is only an error when there are annotations
    if (sawAnns) throw new DataError(path, null, 'images', 'missing or empty: COCO caption annotations need an "images" list with file names');
  }
  for (const p of pendingAnns) {
    if (!firstWithKey.has(p.key)) {
      annErrors.push({ section: 'annotations', index: p.index, sample: null, id: p.index, error: new DataError(path, p.index, 'annotations[].image_id', `image id ${JSON.stringify(p.imageId)} is not in "images"`) });
    }
  }
  yield* errors;
  yield* annErrors;
  for (let i = 0; i < images.length; i++) {
    const img = images[i];
    if (!img) continue;
    const caps = captions.get(img.key) ?? [];
    yield { section: 'images', index: i, sample: { index: i, id: img.id, instruction: '', input: '', output: caps[0] ?? '', captions: caps, image: img.file }, id: img.exact, error: null };
  }
}

/** The result of a transform: the sample to write to each named output (absent: the record is left out of it). */
export type Outputs<K extends string> = Partial<Record<K, Sample>>;

export interface RewriteOptions<K extends string> {
  input: string;
  format: FormatName;
  /** The output files by name, written in the input's format (opened by the caller, e.g. OutputDir.stream). */
  outputs: Readonly<Record<K, StreamingFile>>;
  /** Records (by section and index) that the read pass refused and that are left out. */
  skipped: ReadonlySet<string>;
  transform: (s: Sample) => Outputs<K> | Promise<Outputs<K>>;
  /** How many records may be in flight at once (default 32). */
  window?: number;
  onChunk?: (c: Buffer) => void;
}

/**
 * Runs one record's transform; a failure is named by its record (DataErrors
 * already are). Jobs are awaited in order while later ones run, so a later
 * one may fail first: the attached handler keeps that from being unhandled.
 */
function recordJob<T>(run: () => T | Promise<T>, file: string, index: number, line?: number, field: string | null = null): Promise<T> {
  const job = Promise.resolve()
    .then(run)
    .catch((e: unknown) => {
      throw e instanceof DataError ? e : new DataError(file, index, field, e instanceof Error ? e.message : String(e), line);
    });
  job.catch(() => undefined);
  return job;
}

export function skipKey(section: Section, index: number): string {
  return `${section}:${index}`;
}

export interface SkippedRecord {
  section: Section;
  index: number;
  reason: string;
}

/**
 * What a read pass does with a malformed record: stop with its message, or
 * (--on-error skip) list it for the manifest and leave it out of the rewrite.
 */
export class SkipLog {
  readonly skipped: SkippedRecord[] = [];
  /** skipKey()s of the records left out, for rewriteDataset. */
  readonly keys = new Set<string>();

  constructor(private readonly onError: OnError) {}

  fail(e: DataError, section: Section, index: number): void {
    if (this.onError === 'stop') throw new UserError(`${e.message} (use --on-error skip to leave such records out)`);
    this.skipped.push({ section, index, reason: e.message });
    this.keys.add(skipKey(section, index));
  }
}

interface Sink {
  pushRaw(bytes: Uint8Array): void;
  close(): string;
  abort(): void;
}

/** The record's bytes for an output: the original bytes when unchanged, else the original with the changed fields edited in. */
function recordBytes(schema: RecordSchema, bytes: Buffer, rec: JsonObject, before: Sample, after: Sample): Buffer {
  if (after === before || samplesEqual(after, before)) return bytes;
  return editJson(bytes, schema.edits(rec, before, after));
}

/**
 * Rewrites the dataset into every output, byte-faithfully: a record the
 * transform did not change is copied as its original bytes; a changed one is
 * its original bytes with only the changed fields replaced. Returns the sha256
 * of each output file by name.
 */
export async function rewriteDataset<K extends string>(o: RewriteOptions<K>): Promise<Record<K, string>> {
  const names = Object.keys(o.outputs) as K[];
  if (o.format === 'coco') return rewriteCoco(o, names);
  const schema = schemaOf(o.format);
  if (!schema) throw new Error(`no schema for ${o.format}`);
  const sinks = new Map<K, Sink>(names.map((k) => [k, isJsonl(o.format) ? new JsonlWriter(o.outputs[k]) : new JsonArrayWriter(o.outputs[k])]));
  const window = Math.max(1, o.window ?? 32);
  type Job = [Buffer, JsonObject, Sample, Outputs<K>];
  const queue: Promise<Job>[] = [];
  const drainOne = async (): Promise<void> => {
    const [bytes, rec, orig, outs] = await (queue.shift() as Promise<Job>);
    for (const k of names) {
      const s = outs[k];
      if (s === undefined) continue;
      (sinks.get(k) as Sink).pushRaw(recordBytes(schema, bytes, rec, orig, s));
    }
  };
  try {
    const source: Iterable<{ index: number; line?: number; text: string; bytes: Buffer }> = isJsonl(o.format) ? scanJsonl(o.input, { onChunk: o.onChunk }) : topLevelRecords(o.input, o.onChunk);
    for (const item of source) {
      if (o.skipped.has(skipKey('records', item.index))) continue;
      const rec = parseRecord(item.text, o.input, item.index, item.line);
      const sample = schema.toSample(rec, item.index, o.input, item.line);
      const bytes = item.bytes;
      queue.push(recordJob(async () => [bytes, rec as JsonObject, sample, await o.transform(sample)] as Job, o.input, item.index, item.line));
      if (queue.length >= window) await drainOne();
    }
    while (queue.length > 0) await drainOne();
    const out = {} as Record<K, string>;
    for (const k of names) out[k] = (sinks.get(k) as Sink).close();
    return out;
  } catch (e) {
    // let in-flight work settle before removing partial outputs
    await Promise.allSettled(queue);
    for (const s of sinks.values()) s.abort();
    throw e;
  }
}

async function rewriteCoco<K extends string>(o: RewriteOptions<K>, names: K[]): Promise<Record<K, string>> {
  // pass a: transform every image entry (captions collected per image), by its position in "images"
  const results = new Map<number, Outputs<K>>();
  const originals = new Map<number, Sample>();
  const byKey = new Map<string, number>();
  const samples: Sample[] = [];
  for (const item of readCoco(o.input)) {
    if (!item.sample) continue;
    samples.push(item.sample);
    byKey.set(keyOfExact(item.sample.id, item.id), item.index);
  }
  const window = Math.max(1, o.window ?? 32);
  const inflight: Promise<void>[] = [];
  const sinks = new Map<K, JsonObjectWriter>(names.map((k) => [k, new JsonObjectWriter(o.outputs[k])]));
  try {
    try {
      for (const s of samples) {
        if (o.skipped.has(skipKey('images', s.index))) continue;
        originals.set(s.index, s);
        inflight.push(recordJob(async () => void results.set(s.index, await o.transform(s)), o.input, s.index, undefined, 'images[]'));
        if (inflight.length >= window) await inflight.shift();
      }
      await Promise.all(inflight);
    } catch (e) {
      await Promise.allSettled(inflight); // let in-flight work settle before reporting
      throw e;
    }
    // pass b: write each output with the changed entries
    const capIndex = new Map<number, number>();
    for (const item of scanJson(o.input, { streamKeys: COCO_KEYS, onChunk: o.onChunk })) {
      if (item.kind === 'member') {
        for (const w of sinks.values()) w.rawMember(item.key as string, item.bytes);
        continue;
      }
      if (item.kind === 'begin') {
        for (const w of sinks.values()) w.beginArray(item.key as string);
        continue;
      }
      if (item.kind === 'end') {
        for (const w of sinks.values()) w.endArray();
        continue;
      }
      if (item.key === 'images') {
        const orig = originals.get(item.index);
        if (!orig) continue; // refused by the read pass
        const outs: Outputs<K> = results.get(item.index) ?? {};
        for (const k of names) {
          const s = outs[k];
          if (s === undefined) continue;
          (sinks.get(k) as JsonObjectWriter).rawElement(s.image !== orig.image && s.image !== undefined ? editJson(item.bytes, [{ path: ['file_name'], value: s.image }]) : item.bytes);
        }
      } else {
        if (o.skipped.has(skipKey('annotations', item.index))) continue;
        const rec = JSON.parse(item.text) as JsonObject;
        const img = byKey.get(idKey(rec.image_id as number | string, item.bytes, 'image_id').key);
        if (img === undefined || !originals.has(img)) continue;
        const n = capIndex.get(img) ?? 0;
        capIndex.set(img, n + 1);
        const outs: Outputs<K> = results.get(img) ?? {};
        for (const k of names) {
          const s = outs[k];
          if (s === undefined) continue;
          const cap = s.captions?.[n];
          (sinks.get(k) as JsonObjectWriter).rawElement(cap !== undefined && cap !== rec.caption ? editJson(item.bytes, [{ path: ['caption'], value: cap }]) : item.bytes);
        }
      }
    }
    const out = {} as Record<K, string>;
    for (const k of names) out[k] = (sinks.get(k) as JsonObjectWriter).close();
    return out;
  } catch (e) {
    for (const w of sinks.values()) w.abort();
    throw e;
  }
}
