import { DataError, typeName, type OnError } from './errors.js';
import { UserError } from '../util/errors.js';
import { isJsonl, schemaOf, type FormatName } from './formats.js';
import { scanJson, scanJsonl } from './json-stream.js';
import { isObject, samplesEqual, type JsonObject, type Sample } from './sample.js';
import { JsonArrayWriter, JsonlWriter, JsonObjectWriter } from './writer.js';

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
  error: DataError | null;
}

function parseRecord(text: string, file: string, index: number, line?: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(file, index, null, `not valid JSON (${(e as Error).message.split('\n')[0]})`, line);
  }
}

/** Validating read pass over every record. */
export function* readDataset(path: string, format: FormatName, onChunk?: (c: Buffer) => void): Generator<ReadItem> {
  if (format === 'coco') {
    yield* readCoco(path, onChunk);
    return;
  }
  const schema = schemaOf(format);
  if (!schema) throw new Error(`no schema for ${format}`);
  if (isJsonl(format)) {
    for (const l of scanJsonl(path, { onChunk })) {
      try {
        const rec = parseRecord(l.text, path, l.index, l.line);
        yield { section: 'records', index: l.index, line: l.line, sample: schema.toSample(rec, l.index, path, l.line), error: null };
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        yield { section: 'records', index: l.index, line: l.line, sample: null, error: e };
      }
    }
    return;
  }
  const it = scanJson(path, { onChunk });
  for (const item of it) {
    if (item.key !== null) throw new DataError(path, null, null, 'expected a JSON array of records at the top level, got an object');
    try {
      const rec = parseRecord(item.text, path, item.index);
      yield { section: 'records', index: item.index, sample: schema.toSample(rec, item.index, path), error: null };
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      yield { section: 'records', index: item.index, sample: null, error: e };
    }
  }
}

interface CocoImage {
  id: number | string;
  file: string;
}

function cocoImage(raw: unknown, path: string, index: number): CocoImage {
  if (!isObject(raw)) throw new DataError(path, index, 'images', `expected an object, got ${typeName(raw)}`);
  const id = raw.id;
  if (typeof id !== 'number' && typeof id !== 'string') throw new DataError(path, index, 'images[].id', id === undefined ? 'missing' : `expected a number or string, got ${typeName(id)}`);
  const file = raw.file_name;
  if (typeof file !== 'string') throw new DataError(path, index, 'images[].file_name', file === undefined ? 'missing' : `expected a string, got ${typeName(file)}`);
  return { id, file };
}

function cocoAnnotation(raw: unknown, path: string, index: number): { imageId: number | string; caption: string } {
  if (!isObject(raw)) throw new DataError(path, index, 'annotations', `expected an object, got ${typeName(raw)}`);
  const iid = raw.image_id;
  if (typeof iid !== 'number' && typeof iid !== 'string') throw new DataError(path, index, 'annotations[].image_id', iid === undefined ? 'missing' : `expected a number or string, got ${typeName(iid)}`);
  const cap = raw.caption;
  if (typeof cap !== 'string') throw new DataError(path, index, 'annotations[].caption', cap === undefined ? 'missing' : `expected a string, got ${typeName(cap)}`);
  return { imageId: iid, caption: cap };
}

const COCO_KEYS = new Set(['images', 'annotations']);

function* readCoco(path: string, onChunk?: (c: Buffer) => void): Generator<ReadItem> {
  const images: (CocoImage | null)[] = [];
  const errors: ReadItem[] = [];
  const captions = new Map<string, string[]>();
  const annErrors: ReadItem[] = [];
  const keyOf = (id: number | string): string => (typeof id === 'number' ? `n${id}` : `s${id}`);
  const pendingAnns: { index: number; imageId: number | string }[] = [];
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
        const img = cocoImage(parseRecord(item.text, path, item.index), path, item.index);
        images.push(img);
        if (!captions.has(keyOf(img.id))) captions.set(keyOf(img.id), []);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        images.push(null);
        errors.push({ section: 'images', index: item.index, sample: null, error: e });
      }
    } else if (item.key === 'annotations' && item.kind === 'element') {
      sawAnns = true;
      try {
        const a = cocoAnnotation(parseRecord(item.text, path, item.index), path, item.index);
        let list = captions.get(keyOf(a.imageId));
        if (!list) {
          list = [];
          captions.set(keyOf(a.imageId), list);
          pendingAnns.push({ index: item.index, imageId: a.imageId });
        }
        list.push(a.caption);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        annErrors.push({ section: 'annotations', index: item.index, sample: null, error: e });
      }
    } else if ((item.key === 'images' || item.key === 'annotations') && item.kind === 'member') {
      throw new DataError(path, null, item.key, `expected a list, got ${item.text.trim().startsWith('{') ? 'object' : 'a scalar'}`);
    }
  }
  if (!sawImages && !images.length) {
    // an empty or missing images list is only an error when there are annotations
    if (sawAnns) throw new DataError(path, null, 'images', 'missing or empty: COCO caption annotations need an "images" list with file names');
  }
  const known = new Set(images.filter((x): x is CocoImage => x !== null).map((x) => keyOf(x.id)));
  for (const p of pendingAnns) {
    if (!known.has(keyOf(p.imageId))) {
      annErrors.push({ section: 'annotations', index: p.index, sample: null, error: new DataError(path, p.index, 'annotations[].image_id', `image id ${JSON.stringify(p.imageId)} is not in "images"`) });
    }
  }
  yield* errors;
  yield* annErrors;
  for (let i = 0; i < images.length; i++) {
    const img = images[i];
    if (!img) continue;
    const caps = captions.get(keyOf(img.id)) ?? [];
    yield { section: 'images', index: i, sample: { index: i, id: img.id, instruction: '', input: '', output: caps[0] ?? '', captions: caps, image: img.file }, error: null };
  }
}

/** The result of a transform: for each output, the sample to write (null: leave the record out). */
export type Outputs = Array<Sample | null>;

export interface RewriteOptions {
  input: string;
  format: FormatName;
  outputs: string[];
  /** Records (by section and index) that the read pass refused and that are left out. */
  skipped: ReadonlySet<string>;
  transform: (s: Sample) => Outputs | Promise<Outputs>;
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
  push(v: unknown): void;
  close(): string;
  abort(): void;
}

/** Rewrites the dataset into every output; returns the sha256 of each output file. */
export async function rewriteDataset(o: RewriteOptions): Promise<string[]> {
  if (o.format === 'coco') return rewriteCoco(o);
  const schema = schemaOf(o.format);
  if (!schema) throw new Error(`no schema for ${o.format}`);
  const sinks: Sink[] = o.outputs.map((p) => (isJsonl(o.format) ? JsonlWriter.open(p) : JsonArrayWriter.open(p)));
  const window = Math.max(1, o.window ?? 32);
  const queue: Promise<[JsonObject, Sample, Outputs]>[] = [];
  const drainOne = async (): Promise<void> => {
    const [rec, orig, outs] = await (queue.shift() as Promise<[JsonObject, Sample, Outputs]>);
    for (let k = 0; k < sinks.length; k++) {
      const s = outs[k];
      if (s === null || s === undefined) continue;
      (sinks[k] as Sink).push(samplesEqual(s, orig) ? rec : schema.fromSample(rec, s));
    }
  };
  try {
    const source: Iterable<{ index: number; line?: number; text: string }> = isJsonl(o.format)
      ? scanJsonl(o.input, { onChunk: o.onChunk })
      : (function* () {
          for (const item of scanJson(o.input, { onChunk: o.onChunk })) yield { index: item.index, text: item.text };
        })();
    for (const item of source) {
      if (o.skipped.has(skipKey('records', item.index))) continue;
      const rec = parseRecord(item.text, o.input, item.index, item.line);
      const sample = schema.toSample(rec, item.index, o.input, item.line);
      const recObj = rec as JsonObject;
      queue.push(recordJob(async () => [recObj, sample, await o.transform(sample)] as [JsonObject, Sample, Outputs], o.input, item.index, item.line));
      if (queue.length >= window) await drainOne();
    }
    while (queue.length > 0) await drainOne();
    return sinks.map((s) => s.close());
  } catch (e) {
    // let in-flight work settle before removing partial outputs
    await Promise.allSettled(queue);
    for (const s of sinks) s.abort();
    throw e;
  }
}

async function rewriteCoco(o: RewriteOptions): Promise<string[]> {
  // pass a: transform every image entry (collecting captions per image)
  const results = new Map<string, Outputs>();
  const originals = new Map<string, Sample>();
  const keyOf = (id: number | string): string => (typeof id === 'number' ? `n${id}` : `s${id}`);
  const samples: Sample[] = [];
  for (const item of readCoco(o.input)) {
    if (item.sample) samples.push(item.sample);
  }
  const window = Math.max(1, o.window ?? 32);
  const inflight: Promise<void>[] = [];
  try {
    for (const s of samples) {
      if (o.skipped.has(skipKey('images', s.index))) continue;
      originals.set(keyOf(s.id), s);
      inflight.push(recordJob(async () => void results.set(keyOf(s.id), await o.transform(s)), o.input, s.index, undefined, 'images[]'));
      if (inflight.length >= window) await inflight.shift();
    }
    await Promise.all(inflight);
  } catch (e) {
    await Promise.allSettled(inflight); // let in-flight work settle before reporting
    throw e;
  }
  // pass b: write each output with the changed entries
  const sinks = o.outputs.map((p) => JsonObjectWriter.open(p));
  try {
    const capIndex = new Map<string, number>();
    for (const item of scanJson(o.input, { streamKeys: COCO_KEYS, onChunk: o.onChunk })) {
      if (item.kind === 'member') {
        for (const w of sinks) w.rawMember(item.key as string, item.text);
        continue;
      }
      if (item.kind === 'begin') {
        for (const w of sinks) w.beginArray(item.key as string);
        continue;
      }
      if (item.kind === 'end') {
        for (const w of sinks) w.endArray();
        continue;
      }
      if (item.key === 'images') {
        if (o.skipped.has(skipKey('images', item.index))) continue;
        const rec = JSON.parse(item.text) as JsonObject;
        const k = keyOf(rec.id as number | string);
        const outs = results.get(k);
        const orig = originals.get(k);
        for (let j = 0; j < sinks.length; j++) {
          const s = outs?.[j];
          if (s === null || s === undefined || !orig) continue;
          (sinks[j] as JsonObjectWriter).element(s.image !== orig.image ? { ...rec, file_name: s.image } : rec);
        }
      } else {
        if (o.skipped.has(skipKey('annotations', item.index))) continue;
        const rec = JSON.parse(item.text) as JsonObject;
        const k = keyOf(rec.image_id as number | string);
        const n = capIndex.get(k) ?? 0;
        capIndex.set(k, n + 1);
        const outs = results.get(k);
        const orig = originals.get(k);
        for (let j = 0; j < sinks.length; j++) {
          const s = outs?.[j];
          if (s === null || s === undefined || !orig) continue;
          const cap = s.captions?.[n];
          (sinks[j] as JsonObjectWriter).element(cap !== undefined && cap !== rec.caption ? { ...rec, caption: cap } : rec);
        }
      }
    }
    return sinks.map((w) => w.close());
  } catch (e) {
    for (const w of sinks) w.abort();
    throw e;
  }
}
