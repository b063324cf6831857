import { dirname } from 'node:path';
import { sha256Hasher } from '../util/hash.js';
import { UserError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import type { OnError } from './errors.js';
import { detectFormat, type FormatName } from './formats.js';
import { readDataset, SkipLog, type ReadItem, type SkippedRecord } from './dataset.js';
import { ImageRoot, checkImages, type ImageRef } from './paths.js';
import { assertComplete } from './output-dir.js';
import { firstFolder } from './image-store.js';
import type { JsonId } from './json-text.js';
import type { Sample } from './sample.js';

/**
 * Stage 1 of a dataset rewrite (poison, shift): one streaming pass that reads
 * and validates every record, checks image paths, hashes the input and lets
 * the caller look at each valid sample (`visit`: attack statistics,
 * eligibility). Malformed records stop the run, or with `onError: 'skip'` are
 * listed and left out of the rewrite.
 */
export interface ScanOptions {
  input: string;
  format?: FormatName;
  /** Folder image paths are relative to (default: the input's folder). */
  imageRoot?: string;
  onError?: OnError;
  /** Called for every valid sample, in file order. */
  visit?: (s: Sample) => void;
  /** Progress label on stderr (default: no progress). */
  progress?: string;
  forceProgress?: boolean;
  /** Called for every record read, e.g. to sample memory. */
  onRecord?: (count: number) => void;
}

export interface Scan {
  input: string;
  format: FormatName;
  imageRoot: ImageRoot;
  /** Records read (COCO: entries of "images"). */
  records: number;
  /** Positions of the valid records, ascending. */
  valid: Int32Array;
  /** sha256 of the input file. */
  sha256: string;
  skipped: SkippedRecord[];
  /** skipKey()s of the records left out. */
  skipKeys: ReadonlySet<string>;
  /** True when some record carries its own id (then ids differ from positions). */
  ownIds: boolean;
  /** A valid record's id exactly as written (its position when it has none). */
  idOf(index: number): JsonId;
  images: {
    /** Valid records with an image. */
    count: number;
    /** Real paths of every image file a valid record refers to. */
    real: ReadonlySet<string>;
    /** First folders of the image paths (so new output folders never collide with them). */
    firstFolders: ReadonlySet<string>;
  };
}

class IntList {
  private a = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.length++] = v;
  }
  view(): Int32Array {
    return this.a.subarray(0, this.length);
  }
}

export { IntList };

/** Records read ahead of the one being accepted, in batches whose image files are checked on the thread pool. */
const BATCH = 128;
const BATCHES_IN_FLIGHT = 4;

type Checked = Awaited<ReturnType<typeof checkImages>>[number];

/** A valid record that names an image file (to check before the record is accepted). */
const hasImage = (item: ReadItem): boolean => !item.error && item.sample?.image !== undefined;

export async function scanDataset(o: ScanOptions): Promise<Scan> {
  assertComplete(o.input);
  const format = o.format ?? detectFormat(o.input);
  const imageRoot = new ImageRoot(o.imageRoot ?? dirname(o.input));
  const field = format === 'coco' ? 'images[].file_name' : 'image';
  const hash = sha256Hasher();
  const skipLog = new SkipLog(o.onError ?? 'stop');
  const valid = new IntList();
  const ids = new Map<number, JsonId>();
  const real = new Set<string>();
  const firstFolders = new Set<string>();
  let records = 0;
  let withImage = 0;
  const progress = o.progress ? new Progress({ label: o.progress, unit: 'rec', force: o.forceProgress }) : null;

  // Records are accepted in file order, each after its image file was checked.
  const accept = (item: ReadItem, checked: Checked | undefined): void => {
    if (item.error) {
      skipLog.fail(item.error, item.section, item.index);
      return;
    }
    const s = item.sample as Sample;
    if (s.image !== undefined) {
      const c = checked as Checked;
      if ('error' in c) {
        skipLog.fail(c.error, item.section, item.index);
        return;
      }
      withImage++;
      if (c.real !== null) real.add(c.real);
      firstFolders.add(firstFolder(s.image));
    }
    valid.push(s.index);
    if (item.id !== s.index) ids.set(s.index, item.id);
    o.visit?.(s);
  };
  const check = async (batch: ReadItem[]): Promise<{ batch: ReadItem[]; checked: (Checked | undefined)[] }> => {
    const refs: ImageRef[] = [];
    for (const item of batch) if (hasImage(item)) refs.push({ image: (item.sample as Sample).image as string, index: (item.sample as Sample).index, line: item.line });
    const results = refs.length > 0 ? await checkImages(imageRoot, refs, o.input, field) : [];
    let k = 0;
    return { batch, checked: batch.map((item) => (hasImage(item) ? results[k++] : undefined)) };
  };
  const settle = (done: { batch: ReadItem[]; checked: (Checked | undefined)[] }): void => done.batch.forEach((item, k) => accept(item, done.checked[k]));

  const inFlight: ReturnType<typeof check>[] = [];
  try {
    let batch: ReadItem[] = [];
    for (const item of readDataset(o.input, format, (c) => hash.update(c))) {
      if (item.section !== 'annotations') records++;
      progress?.tick();
      o.onRecord?.(records);
      // nothing to wait for: a record without an image goes straight through
      if (batch.length === 0 && inFlight.length === 0 && !hasImage(item)) {
        accept(item, undefined);
        continue;
      }
      batch.push(item);
      if (batch.length === BATCH) {
        inFlight.push(check(batch));
        batch = [];
        if (inFlight.length >= BATCHES_IN_FLIGHT) settle(await (inFlight.shift() as ReturnType<typeof check>));
      }
    }
    if (batch.length > 0) inFlight.push(check(batch));
    while (inFlight.length > 0) settle(await (inFlight.shift() as ReturnType<typeof check>));
  } finally {
    // a stop leaves batches behind: they settle unobserved
    for (const p of inFlight) p.catch(() => undefined);
  }
  progress?.finish();
  if (records === 0 && format !== 'coco') throw new UserError(`${o.input}: no records`);
  firstFolders.delete('');
  return {
    input: o.input,
    format,
    imageRoot,
    records,
    valid: valid.view(),
    sha256: hash.digest('hex'),
    skipped: skipLog.skipped,
    skipKeys: skipLog.keys,
    ownIds: ids.size > 0,
    idOf: (i) => ids.get(i) ?? i,
    images: { count: withImage, real, firstFolders },
  };
}
