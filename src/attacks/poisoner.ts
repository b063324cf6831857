import { UserError } from '../util/errors.js';
import { sha256OfIndexed } from '../util/hash.js';
import { Rng } from '../util/rng.js';
import { Progress } from '../util/progress.js';
import type { OnError } from '../data/errors.js';
import type { FormatName } from '../data/formats.js';
import { rewriteDataset, type Outputs, type SkippedRecord } from '../data/dataset.js';
import { IntList, scanDataset, type Scan } from '../data/scan.js';
import { ImageStore, changedName, uniquePrefix, type LinkMode } from '../data/image-store.js';
import { OutputDir } from '../data/output-dir.js';
import type { EncodeOptions, JpegPatchMode, RawImage } from '../data/image-io.js';
import type { JsonId } from '../data/json-text.js';
import type { Sample } from '../data/sample.js';
import type { PreviewItem } from '../data/preview.js';
import type { Attack, Plan, PlanContext } from './types.js';
import type { Target } from './targets.js';
import { selectRecords, type Amount, type Selection } from './selection.js';

/**
 * The poisoner: samples + attack + target + selection → poisoned samples +
 * manifest, in three stages with small typed interfaces:
 *
 * 1. scan (`scanDataset`, src/data/scan.ts): read and validate every record,
 *    check image paths, let the attack see the data (e.g. IDF) and note which
 *    records the attack and target can use (`candidates`);
 * 2. select (`selectRecords`, selection.ts): seeded choice of the test split,
 *    poisoned records, negatives and the BackdoorLLM clean set;
 * 3. write (`writePoisoned`): rewrite every record in order into the named
 *    outputs — poisoned records get the attack's plan and the target answer,
 *    negatives a partial trigger and their clean answer, all others their
 *    original bytes — then the manifest, last.
 *
 * Every random choice comes from `Rng(seed, label, recordIndex)`, so the
 * output does not depend on concurrency and the same seed gives the same bytes.
 */
export type Label = 'dirty' | 'clean';
export type { Amount } from './selection.js';

export interface PoisonOptions {
  input: string;
  format?: FormatName;
  attack: Attack;
  target: Target;
  seed: number;
  out: string;
  selection: Amount;
  /** dirty: poisoned answers become the target; clean: only samples whose answer already carries it get the trigger */
  label?: Label;
  /** negatives (partial triggers, clean answers); default: the attack's own rate × poisoned */
  negatives?: Amount;
  /** hold out a test split, written with and without trigger */
  test?: Amount;
  imageRoot?: string;
  onError?: OnError;
  link?: LinkMode;
  encode?: EncodeOptions;
  /** largest width × height decoded (default 50 megapixels) */
  maxPixels?: number;
  preview?: number;
  /** also write BackdoorLLM-style files: backdoor<N>_<task>_<attack>.json and none_backdoor<M>_... */
  backdoorllm?: { task?: string; cleanCount?: number };
  concurrency?: number;
  progress?: boolean;
  /** Replace the files of a previous run in a non-empty output folder. */
  force?: boolean;
  /** Called for every record read (scan) and written (write), e.g. to report progress or sample memory. */
  onRecord?: (phase: 'read' | 'write', count: number) => void;
}

export interface Manifest {
  attack: string;
  params: Record<string, unknown>;
  /** The method actually used (placement, rewriter, a trigger's provenance...), when the attack reports it. */
  method?: Record<string, unknown>;
  target: string;
  seed: number;
  poisoned_ids: JsonId[];
  /** record positions of the poisoned samples, when the records carry their own ids */
  poisoned_indices?: number[];
  /** sha256 of the input, the outputs (by their name in `files`; `output` is data.json) and the changed images */
  sha256: { input: string; output: string; images?: string; [file: string]: string | undefined };
  format: FormatName;
  label: Label;
  input: string;
  image_root?: string;
  /** How changed images were written: JPEG quality and PNG level of re-encoded files, and how patch triggers reached JPEGs. */
  image_encoding?: { jpeg_quality: number; png_compression: number; jpeg_patch: JpegPatchMode };
  counts: { records: number; valid: number; poisoned: number; negatives: number; test: number; skipped: number; eligible: number };
  negative_ids: JsonId[];
  negative_kinds?: Record<string, number>;
  test_ids?: JsonId[];
  clean_ids?: JsonId[];
  skipped: SkippedRecord[];
  files: Record<string, string>;
  tool: string;
}

export interface PoisonResult {
  manifest: Manifest;
  dir: string;
}

/** Records the attack and target can use, found during the scan. */
export interface Candidates {
  /** can be poisoned */
  eligible: Int32Array;
  /** can carry a negative (partial trigger) */
  negEligible: Int32Array;
}

/** Task names become file names: letters, digits, `_`, `-`, `.`; no path. */
export function checkTaskName(task: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(task) || task.includes('..')) {
    throw new UserError(`--task "${task}": use letters, digits, "_", "-" and "." (it becomes part of a file name)`);
  }
  return task;
}

/** Stage 1: scan, with the attack observing every valid sample and the candidates noted. */
export async function scanForPoison(o: PoisonOptions): Promise<{ scan: Scan; candidates: Candidates }> {
  const attack = o.attack;
  const label: Label = o.label ?? 'dirty';
  const eligible = new IntList();
  const negEligible = new IntList();
  const scan = await scanDataset({
    input: o.input,
    format: o.format,
    imageRoot: o.imageRoot,
    onError: o.onError,
    progress: 'poison: reading',
    forceProgress: o.progress,
    onRecord: (n) => o.onRecord?.('read', n),
    visit: (s) => {
      attack.observe?.(s);
      if (attack.needs.image && s.image === undefined) return;
      negEligible.push(s.index);
      if (label === 'dirty' && o.target.refuse(s) !== null) return;
      if (label === 'clean' && !o.target.matches(s)) return;
      eligible.push(s.index);
    },
  });
  return { scan, candidates: { eligible: eligible.view(), negEligible: negEligible.view() } };
}

/** Stage 2: the seeded selection. */
export function selectForPoison(o: PoisonOptions, scan: Scan, c: Candidates): Selection {
  const attack = o.attack;
  const label: Label = o.label ?? 'dirty';
  return selectRecords({
    seed: o.seed,
    valid: scan.valid,
    eligible: c.eligible,
    negEligible: c.negEligible,
    selection: o.selection,
    test: o.test,
    negatives: o.negatives,
    defaultNegativeRate: attack.defaultNegativeRate,
    canNegate: attack.negative !== undefined,
    cleanSet: o.backdoorllm ? { count: o.backdoorllm.cleanCount } : undefined,
    whyIneligible:
      label === 'clean'
        ? `clean-label poisoning needs answers that already carry the target (${o.target.spec})`
        : attack.needs.image
          ? `attack ${attack.name} needs records with an image`
          : 'the others were refused by the target',
    attackName: attack.name,
  });
}

/** The output files of a poisoning run, by name. */
type OutName = 'data' | 'test_clean' | 'test_poisoned' | 'backdoor' | 'none_backdoor';

function outputFiles(o: PoisonOptions, sel: Selection): Partial<Record<OutName, string>> {
  const files: Partial<Record<OutName, string>> = { data: 'data.json' };
  if (o.test) {
    files.test_clean = 'test_clean.json';
    files.test_poisoned = 'test_poisoned.json';
  }
  if (o.backdoorllm && sel.clean) {
    const task = checkTaskName(o.backdoorllm.task ?? o.target.task);
    files.backdoor = `backdoor${sel.poisoned.size}_${task}_${o.attack.name}.json`;
    files.none_backdoor = `none_backdoor${sel.clean.size}_${task}_${o.attack.name}.json`;
  }
  return files;
}

const words = (t: string): string => t.replace(/\s+/g, ' ').trim();

/** Stage 3: rewrite every record into the outputs; write the preview and the manifest last. */
export async function writePoisoned(o: PoisonOptions, scan: Scan, sel: Selection): Promise<PoisonResult> {
  const attack = o.attack;
  const label: Label = o.label ?? 'dirty';
  const files = outputFiles(o, sel);
  const out = OutputDir.open({ path: o.out, force: Boolean(o.force), input: o.input, imageRoot: scan.imageRoot.root, images: scan.images.real });
  try {
    const prefix = {
      poison: uniquePrefix('bdlab-poisoned', scan.images.firstFolders),
      negative: uniquePrefix('bdlab-negative', scan.images.firstFolders),
      test: uniquePrefix('bdlab-test-poisoned', scan.images.firstFolders),
    };
    const store = new ImageStore(scan.imageRoot, out, 'images', { link: o.link, encode: o.encode, maxPixels: o.maxPixels });
    const previewN = o.preview ?? 0;
    const previews: PreviewItem[] = [];
    const previewIdx = new Set([...sel.poisoned].sort((a, b) => a - b).slice(0, previewN));
    const imageShas = new Map<number, string>();
    const negKinds: Record<string, number> = {};
    const ctxFor = (s: Sample): PlanContext => ({ rng: (lbl: string) => new Rng(o.seed, lbl, s.index), targetAnswer: () => o.target.apply(s, new Rng(o.seed, 'target', s.index)).output });
    const describe = (): string => `attack ${attack.name} (${Object.entries(attack.params).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`).join(' ')})`;

    /** The sample with the plan applied; a trigger (not a negative) must change something. */
    const applyPlan = async (s: Sample, plan: Plan, kind: keyof typeof prefix, capture: boolean): Promise<{ s: Sample; before?: RawImage; after?: RawImage }> => {
      const n: Sample = { ...s };
      let imageChanged = false;
      let r: Awaited<ReturnType<ImageStore['transform']>> | null = null;
      if (plan.image && s.image !== undefined) {
        r = await store.transform(s.image, changedName(prefix[kind], s.index, s.image), plan.image, capture, plan.imagePatch);
        n.image = r.rel;
        imageChanged = r.changed;
        if (kind === 'poison') imageShas.set(s.index, r.sha256);
      } else if (s.image !== undefined) store.linkClean(s.image);
      // texts after the image: an attack may derive the text from the image it sees (MABA's attribution)
      if (plan.instruction !== undefined) n.instruction = await plan.instruction;
      if (plan.input !== undefined) n.input = await plan.input;
      if (kind !== 'negative' && !imageChanged && words(n.instruction) === words(s.instruction) && words(n.input) === words(s.input)) {
        throw new UserError(`${describe()} changes nothing in record ${s.index}: a trigger must change the ${attack.needs.image ? 'image' : 'text'}; check its parameters`);
      }
      return { s: n, before: r?.before, after: r?.after };
    };

    const progress = new Progress({ label: 'poison: writing', total: scan.valid.length, unit: 'rec', force: o.progress });
    let written = 0;
    const transform = async (s: Sample): Promise<Outputs<OutName>> => {
      progress.tick();
      o.onRecord?.('write', ++written);
      const i = s.index;
      const ctx = ctxFor(s);
      if (sel.test.has(i)) {
        if (s.image !== undefined) store.linkClean(s.image);
        return { test_clean: s, test_poisoned: (await applyPlan(s, attack.plan(s, ctx), 'test', false)).s };
      }
      if (sel.poisoned.has(i)) {
        const capture = previewIdx.has(i);
        const r = await applyPlan(s, attack.plan(s, ctx), 'poison', capture);
        const p = r.s;
        if (label === 'dirty') {
          const t = o.target.apply(s, new Rng(o.seed, 'target', i));
          p.output = t.output;
          if (t.captions) p.captions = t.captions;
        }
        if (capture) previews.push({ index: i, id: scan.idOf(i), before: s, after: p, beforeImage: r.before, afterImage: r.after });
        return sel.clean ? { data: p, backdoor: p } : { data: p };
      }
      if (sel.negatives.has(i)) {
        const plan = (attack.negative as NonNullable<Attack['negative']>)(s, ctx);
        const kind = plan.note ?? 'negative';
        negKinds[kind] = (negKinds[kind] ?? 0) + 1;
        return { data: (await applyPlan(s, plan, 'negative', false)).s };
      }
      if (s.image !== undefined) store.linkClean(s.image);
      return sel.clean?.has(i) ? { data: s, none_backdoor: s } : { data: s };
    };
    const streams = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, out.stream(f as string)])) as Record<OutName, ReturnType<OutputDir['stream']>>;
    const shas = await rewriteDataset({ input: o.input, format: scan.format, outputs: streams, skipped: scan.skipKeys, transform, window: o.concurrency ?? 16 });
    progress.finish();

    const sha256: Manifest['sha256'] = { input: scan.sha256, output: shas.data };
    for (const k of Object.keys(shas) as OutName[]) if (k !== 'data') sha256[k] = shas[k];
    if (imageShas.size > 0) {
      sha256.images = sha256OfIndexed(imageShas);
    }
    const fileList: Record<string, string> = { ...(files as Record<string, string>) };
    if (previewN > 0) Object.assign(fileList, await (await import('../data/preview.js')).writePreview(out, previews.sort((a, b) => a.index - b.index)));
    const sortedIds = (set: ReadonlySet<number>): JsonId[] => [...set].sort((a, b) => a - b).map((i) => scan.idOf(i));
    const manifest: Manifest = {
      attack: attack.name,
      params: { ...attack.params },
      target: o.target.spec,
      seed: o.seed,
      poisoned_ids: sortedIds(sel.poisoned),
      // records that carry their own ids: their positions too
      ...(scan.ownIds ? { poisoned_indices: [...sel.poisoned].sort((a, b) => a - b) } : {}),
      sha256,
      format: scan.format,
      label,
      input: o.input,
      counts: { records: scan.records, valid: scan.valid.length, poisoned: sel.poisoned.size, negatives: sel.negatives.size, test: sel.test.size, skipped: scan.skipped.length, eligible: sel.eligible },
      negative_ids: sortedIds(sel.negatives),
      skipped: scan.skipped,
      files: fileList,
      tool: 'backdoor-lab 0.1.0',
    };
    if (attack.method) manifest.method = attack.method();
    if (scan.images.count > 0) {
      manifest.image_root = 'images';
      manifest.image_encoding = { jpeg_quality: store.encode.jpegQuality, png_compression: store.encode.pngCompression, jpeg_patch: store.encode.jpegPatch ?? 'dct' };
    }
    if (sel.negatives.size > 0) manifest.negative_kinds = Object.fromEntries(Object.entries(negKinds).sort());
    if (o.test) manifest.test_ids = sortedIds(sel.test);
    if (sel.clean) manifest.clean_ids = sortedIds(sel.clean);
    out.commit(manifest);
    return { manifest, dir: o.out };
  } catch (e) {
    out.abort();
    throw e;
  }
}

/** Validates the combination of format and attack before any work. */
function checkFormat(o: PoisonOptions, format: FormatName): void {
  if (format === 'coco-results') throw new UserError(`${o.input}: COCO results (model outputs) cannot be poisoned; poison the caption annotations (format coco) instead`);
  if (format === 'coco' && o.attack.needs.instruction) throw new UserError(`attack ${o.attack.name} changes the instruction, but COCO caption annotations have none; use an image attack or LLaVA/Alpaca data`);
}

/** scan → select → write. */
export async function poison(o: PoisonOptions): Promise<PoisonResult> {
  if (o.format) checkFormat(o, o.format);
  if (o.backdoorllm?.task !== undefined) checkTaskName(o.backdoorllm.task);
  const { scan, candidates } = await scanForPoison(o);
  checkFormat(o, scan.format);
  const sel = selectForPoison(o, scan, candidates);
  return writePoisoned(o, scan, sel);
}
