import { UserError } from '../util/errors.js';
import { sha256OfIndexed } from '../util/hash.js';
import { Rng } from '../util/rng.js';
import { Progress } from '../util/progress.js';
import type { OnError } from '../data/errors.js';
import { detectFormat, type FormatName } from '../data/formats.js';
import { rewriteDataset, type Outputs, type SkippedRecord } from '../data/dataset.js';
import { scanDataset } from '../data/scan.js';
import { ImageStore, changedName, uniquePrefix, type LinkMode } from '../data/image-store.js';
import { OutputDir } from '../data/output-dir.js';
import type { EncodeOptions, RawImage } from '../data/image-io.js';
import type { JsonId } from '../data/json-text.js';
import type { Sample } from '../data/sample.js';
import { writePreview, type PreviewItem } from '../data/preview.js';
import { applyStyles, type StyleStep } from './image-styles.js';
import { rewriter } from './text-rewrite.js';
import { Mixture } from './mixture.js';
import { PhraseGuard, phrasesFromManifest } from './keep.js';

/**
 * `bdlab shift`: makes the user-domain version of a dataset — image styles,
 * question and answer rewrites — and mixtures of shifted and original records
 * at given ratios. The same stages as the poisoner: scan (src/data/scan.ts),
 * select (a seeded Mixture ranks the records), write (rewriteDataset into one
 * output per ratio, byte-faithful for records left as they were). Each
 * record's random choices come from `Rng(seed, label, recordIndex)`, so the
 * same seed gives the same bytes.
 *
 * Trigger phrases survive rewrites (keep.ts): the phrases of the poisoning
 * run that wrote the input (its manifest) and `keep` are taken out before a
 * rewrite and put back after it.
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
  /** phrases kept intact through rewrites, besides the triggers named by the input's manifest */
  keep?: string[];
  onError?: OnError;
  link?: LinkMode;
  encode?: EncodeOptions;
  maxPixels?: number;
  preview?: number;
  concurrency?: number;
  progress?: boolean;
  /** Replace the files of a previous run in a non-empty output folder. */
  force?: boolean;
}

export interface ShiftManifest {
  shift: { image_styles: { name: string; params: Record<string, unknown> }[]; question: string | null; answer: string | null };
  seed: number;
  input: string;
  format: FormatName;
  mixtures: { ratio: number; file: string; shifted: number; shifted_ids: JsonId[] }[];
  sha256: Record<string, string>;
  image_root?: string;
  /** phrases kept through the rewrites, where they come from, and how many records carried one */
  keep: { phrases: string[]; from_manifest: string[]; records: number };
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
  const fromManifest = phrasesFromManifest(o.input).phrases;
  const guard = new PhraseGuard([...fromManifest, ...(o.keep ?? [])]);

  // stage 1: scan
  const scan = await scanDataset({ input: o.input, format, imageRoot: o.imageRoot, onError: o.onError });
  if (o.styles.length > 0 && scan.images.count === 0) throw new UserError(`${o.input}: --image-style given but no record has an image`);
  if (o.styles.length > 0 && fromManifest.length > 0) {
    process.stderr.write('shift: note: the image styles also change the image triggers of a poisoned set; to measure domain shift, shift first and poison second\n');
  }
  const posOf = new Map<number, number>();
  scan.valid.forEach((i, pos) => posOf.set(i, pos));

  // stage 2: select (nested mixtures)
  const mix = new Mixture(scan.valid.length, o.seed);
  const maxRatio = ratios[ratios.length - 1] as number;
  const minRatio = ratios[0] as number;

  // stage 3: write
  const outName = (r: number): string => (single ? 'data' : `mix_${r}`);
  const files: Record<string, string> = {};
  for (const r of ratios) files[outName(r)] = single ? 'data.json' : `mix-${r}/data.json`;
  const out = OutputDir.open({ path: o.out, force: Boolean(o.force), input: o.input, imageRoot: scan.imageRoot.root, images: scan.images.real });
  try {
    const prefix = uniquePrefix('bdlab-shifted', scan.images.firstFolders);
    const store = new ImageStore(scan.imageRoot, out, 'images', { link: o.link, encode: o.encode, maxPixels: o.maxPixels });
    const previewN = o.preview ?? 0;
    const previews: PreviewItem[] = [];
    const imageShas = new Map<number, string>();
    let keptRecords = 0;
    const progress = new Progress({ label: 'shift', total: scan.valid.length, unit: 'rec', force: o.progress });

    const shiftSample = async (s: Sample, capture: boolean): Promise<{ s: Sample; before?: RawImage; after?: RawImage }> => {
      const rng = (label: string): Rng => new Rng(o.seed, label, s.index);
      const n: Sample = { ...s };
      const image = s.image !== undefined;
      let kept = 0;
      if (qRw) {
        const r = await guard.rewrite(s.instruction, (t) => qRw.rewrite(t, { role: 'question', image, rng: rng('question') }));
        n.instruction = r.text;
        kept += r.kept;
      }
      if (aRw) {
        if (s.captions) {
          const ra = rng('answer');
          n.captions = [];
          for (const c of s.captions) {
            const r = await guard.rewrite(c, (t) => aRw.rewrite(t, { role: 'answer', image, rng: ra }));
            n.captions.push(r.text);
            kept += r.kept;
          }
          n.output = n.captions[0] ?? s.output;
        } else {
          const r = await guard.rewrite(s.output, (t) => aRw.rewrite(t, { role: 'answer', image, rng: rng('answer') }));
          n.output = r.text;
          kept += r.kept;
        }
      }
      if (kept > 0) keptRecords++;
      if (o.styles.length > 0 && s.image !== undefined) {
        const res = await store.transform(
          s.image,
          changedName(prefix, s.index, s.image),
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
    const transform = async (s: Sample): Promise<Outputs<string>> => {
      progress.tick();
      const pos = posOf.get(s.index) as number;
      const anyShift = mix.shifted(pos, maxRatio);
      const allShift = mix.shifted(pos, minRatio);
      let shifted: Sample = s;
      if (anyShift) {
        const capture = previewTaken < previewN;
        if (capture) previewTaken++;
        const r = await shiftSample(s, capture);
        shifted = r.s;
        if (capture) previews.push({ index: s.index, id: scan.idOf(s.index), before: s, after: shifted, beforeImage: r.before, afterImage: r.after });
      }
      if (!allShift && s.image !== undefined) store.linkClean(s.image);
      const outs: Outputs<string> = {};
      for (const r of ratios) outs[outName(r)] = mix.shifted(pos, r) ? shifted : s;
      return outs;
    };
    const streams = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, out.stream(f)]));
    const shas = await rewriteDataset({ input: o.input, format: scan.format, outputs: streams, skipped: scan.skipKeys, transform, window: o.concurrency ?? 16 });
    progress.finish();

    const sha256: Record<string, string> = { input: scan.sha256 };
    for (const r of ratios) sha256[single ? 'output' : outName(r)] = shas[outName(r)] as string;
    if (imageShas.size > 0) {
      sha256.images = sha256OfIndexed(imageShas);
    }
    if (previewN > 0) Object.assign(files, await writePreview(out, previews.sort((a, b) => a.index - b.index), 'shifted'));
    if (keptRecords > 0) process.stderr.write(`shift: kept the trigger phrase(s) ${guard.phrases.map((p) => JSON.stringify(p)).join(', ')} through the rewrite in ${keptRecords} record(s)\n`);
    const ids = [...scan.valid].map((i) => scan.idOf(i));
    const manifest: ShiftManifest = {
      shift: { image_styles: o.styles.map((st) => ({ name: st.style.name, params: { ...st.params } })), question: o.question ?? null, answer: o.answer ?? null },
      seed: o.seed,
      input: o.input,
      format: scan.format,
      mixtures: ratios.map((r) => ({ ratio: r, file: files[outName(r)] as string, shifted: mix.count(r), shifted_ids: ids.filter((_, pos) => mix.shifted(pos, r)) })),
      sha256,
      keep: { phrases: [...new Set(guard.phrases)], from_manifest: [...new Set(fromManifest)], records: keptRecords },
      counts: { records: scan.records, valid: scan.valid.length, skipped: scan.skipped.length },
      skipped: scan.skipped,
      files,
      tool: 'backdoor-lab 0.1.0',
    };
    if (scan.images.count > 0) manifest.image_root = 'images';
    out.commit(manifest);
    return { manifest };
  } catch (e) {
    out.abort();
    throw e;
  }
}
