import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { Progress } from '../util/progress.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { OnError } from '../data/errors.js';
import { detectFormat, type FormatName } from '../data/formats.js';
import { readDataset, rewriteDataset, SkipLog, type Outputs, type SkippedRecord } from '../data/dataset.js';
import { ImageRoot, imageProblem } from '../data/paths.js';
import { ImageStore, type LinkMode } from '../data/image-store.js';
import { DEFAULT_ENCODE, type EncodeOptions, type RawImage } from '../data/image-io.js';
import type { Sample, SampleId } from '../data/sample.js';
import { writePreview, type PreviewItem } from '../attacks/preview.js';
import { applyStyles, type StyleStep } from './image-styles.js';
import { rewriter } from './text-rewrite.js';
import { Mixture } from './mixture.js';

/**
 * `bdlab shift`: makes the user-domain version of a dataset — image styles,
 * question and answer rewrites — and mixtures of shifted and original records
 * at given ratios. Streams like the poisoner; each record's random choices come
 * from `Rng(seed, label, recordIndex)`, so the same seed gives the same bytes.
 */
export interface ShiftOptions {
  input: string;
  format?: FormatName;
  out: string;
  seed: number;
  imageRoot?: string;
  styles: StyleStep[];
  question?: string;
  answer?: string;
  /** percentages of shifted records; default [100] (one output, DIR/data.json) */
  mix?: number[];
  onError?: OnError;
  link?: LinkMode;
  encode?: EncodeOptions;
  preview?: number;
  concurrency?: number;
  progress?: boolean;
}

export interface ShiftManifest {
  shift: { image_styles: { name: string; params: Record<string, unknown> }[]; question: string | null; answer: string | null };
  seed: number;
  input: string;
  format: FormatName;
  mixtures: { ratio: number; file: string; shifted: number; shifted_ids: SampleId[] }[];
  sha256: Record<string, string>;
  image_root?: string;
  counts: { records: number; valid: number; skipped: number };
  skipped: SkippedRecord[];
  files: Record<string, string>;
  tool: string;
}

export async function shift(o: ShiftOptions): Promise<{ manifest: ShiftManifest }> {
  const format = o.format ?? detectFormat(o.input);
  if (format === 'coco-results') throw new UserError(`${o.input}: shift the caption annotations (format coco), not COCO results`);
  if (o.styles.length === 0 && !o.question && !o.answer) throw new UserError('nothing to shift: give --image-style, --question and/or --answer');
  if (format === 'coco' && o.question) throw new UserError('COCO caption annotations have no questions; use --answer and/or --image-style');
  const qRw = o.question ? rewriter(o.question) : null;
  const aRw = o.answer ? rewriter(o.answer) : null;
  const ratios = o.mix && o.mix.length > 0 ? o.mix : [100];
  const single = !o.mix || o.mix.length === 0;
  const onError: OnError = o.onError ?? 'stop';
  const imageRoot = new ImageRoot(o.imageRoot ?? dirname(o.input));

  // pass 1
  const hIn = createHash('sha256');
  const skipLog = new SkipLog(onError);
  const posOf = new Map<number, number>();
  const ids: SampleId[] = [];
  let records = 0;
  let anyImage = false;
  for (const item of readDataset(o.input, format, (c) => hIn.update(c))) {
    if (item.section !== 'annotations') records++;
    if (item.error) {
      skipLog.fail(item.error, item.section, item.index);
      continue;
    }
    const s = item.sample as Sample;
    const bad = imageProblem(imageRoot, s.image, o.input, s.index, format === 'coco' ? 'images[].file_name' : 'image', item.line);
    if (bad) {
      skipLog.fail(bad, item.section, item.index);
      continue;
    }
    if (s.image !== undefined) anyImage = true;
    posOf.set(s.index, ids.length);
    ids.push(s.id);
  }
  if (o.styles.length > 0 && !anyImage) throw new UserError(`${o.input}: --image-style given but no record has an image`);
  const mix = new Mixture(ids.length, o.seed);
  const maxRatio = ratios[ratios.length - 1] as number;
  const minRatio = ratios[0] as number;

  const files: Record<string, string> = {};
  const outFiles = ratios.map((r) => (single ? 'data.json' : `mix-${r}/data.json`));
  outFiles.forEach((f, j) => {
    files[single ? 'data' : `mix_${ratios[j]}`] = f;
  });
  const store = new ImageStore(imageRoot, join(o.out, 'images'), o.link ?? 'hardlink', o.encode ?? DEFAULT_ENCODE);
  const previewN = o.preview ?? 0;
  const previews: PreviewItem[] = [];
  const imageShas = new Map<number, string>();
  const progress = new Progress({ label: 'shift', total: ids.length, unit: 'rec', force: o.progress });

  const shiftSample = async (s: Sample, capture: boolean): Promise<{ s: Sample; before?: RawImage; after?: RawImage }> => {
    const rng = (label: string): Rng => new Rng(o.seed, label, s.index);
    const n: Sample = { ...s };
    const image = s.image !== undefined;
    if (qRw) n.instruction = await qRw.rewrite(s.instruction, { role: 'question', image, rng: rng('question') });
    if (aRw) {
      if (s.captions) {
        const r = rng('answer');
        n.captions = [];
        for (const c of s.captions) n.captions.push(await aRw.rewrite(c, { role: 'answer', image, rng: r }));
        n.output = n.captions[0] ?? s.output;
      } else n.output = await aRw.rewrite(s.output, { role: 'answer', image, rng: rng('answer') });
    }
    if (o.styles.length > 0 && s.image !== undefined) {
      const res = await store.transform(
        s.image,
        'bdlab-shifted',
        s.index,
        async (img) => {
          const r = await applyStyles(img, o.styles, rng);
          img.data = r.data;
          img.width = r.width;
          img.height = r.height;
          img.channels = r.channels;
        },
        capture,
      );
      n.image = res.rel;
      imageShas.set(s.index, res.sha256);
      return { s: n, before: res.before, after: res.after };
    }
    return { s: n };
  };

  let previewTaken = 0;
  const transform = async (s: Sample): Promise<Outputs> => {
    progress.tick();
    const pos = posOf.get(s.index) as number;
    const outs: Outputs = [];
    const anyShift = mix.shifted(pos, maxRatio);
    const allShift = mix.shifted(pos, minRatio);
    let shifted: Sample = s;
    if (anyShift) {
      const capture = previewTaken < previewN;
      if (capture) previewTaken++;
      const r = await shiftSample(s, capture);
      shifted = r.s;
      if (capture) previews.push({ index: s.index, id: s.id, before: s, after: shifted, beforeImage: r.before, afterImage: r.after });
    }
    if (!allShift && s.image !== undefined) await store.linkClean(s.image);
    for (const r of ratios) outs.push(mix.shifted(pos, r) ? shifted : s);
    return outs;
  };
  const shas = await rewriteDataset({ input: o.input, format, outputs: outFiles.map((f) => join(o.out, f)), skipped: skipLog.keys, transform, window: o.concurrency ?? 16 });
  progress.finish();

  const sha256: Record<string, string> = { input: hIn.digest('hex') };
  outFiles.forEach((f, j) => {
    sha256[single ? 'output' : f] = shas[j] as string;
  });
  if (imageShas.size > 0) {
    const h = createHash('sha256');
    for (const i of [...imageShas.keys()].sort((a, b) => a - b)) h.update(`${i}\t${imageShas.get(i)}\n`);
    sha256.images = h.digest('hex');
  }
  if (previewN > 0) Object.assign(files, await writePreview(o.out, previews.sort((a, b) => a.index - b.index), 'shifted'));
  const manifest: ShiftManifest = {
    shift: { image_styles: o.styles.map((st) => ({ name: st.style.name, params: { ...st.params } })), question: o.question ?? null, answer: o.answer ?? null },
    seed: o.seed,
    input: o.input,
    format,
    mixtures: ratios.map((r, j) => ({ ratio: r, file: outFiles[j] as string, shifted: mix.count(r), shifted_ids: ids.filter((_, pos) => mix.shifted(pos, r)) })),
    sha256,
    counts: { records, valid: ids.length, skipped: skipLog.skipped.length },
    skipped: skipLog.skipped,
    files,
    tool: 'backdoor-lab 0.1.0',
  };
  if (anyImage) manifest.image_root = 'images';
  writeJsonAtomic(join(o.out, 'manifest.json'), manifest);
  return { manifest };
}
