import { dirname, join, basename } from 'node:path';
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
import type { Attack, Plan, PlanContext } from './types.js';
import type { Target } from './targets.js';
import { writePreview, type PreviewItem } from './preview.js';

/**
 * The poisoner: samples + attack + target + selection → poisoned samples +
 * manifest. Two streaming passes over the input:
 *
 * 1. read and validate every record (malformed ones stop the run or, with
 *    `onError: 'skip'`, are left out and listed), check image paths, let the
 *    attack see the data (e.g. IDF), and note which records can be poisoned;
 * 2. select with seeded streams — test split (`test`), poisoned (`select`),
 *    negatives (`negatives`), BackdoorLLM clean set (`clean`) — then rewrite
 *    every record in order: poisoned records get the attack's plan and the
 *    target answer, negatives a partial trigger and their clean answer.
 *
 * Every random choice comes from `Rng(seed, label, recordIndex)`, so the
 * output does not depend on concurrency and the same seed gives the same bytes.
 */
export type Label = 'dirty' | 'clean';

export interface Amount {
  rate?: number;
  count?: number;
}

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
  preview?: number;
  /** also write BackdoorLLM-style files: backdoor<N>_<task>_<attack>.json and none_backdoor<M>_... */
  backdoorllm?: { task?: string; cleanCount?: number };
  concurrency?: number;
  progress?: boolean;
  /** Called for every record read (pass 1) and written (pass 2), e.g. to report progress or sample memory. */
  onRecord?: (phase: 'read' | 'write', count: number) => void;
}

export interface Manifest {
  attack: string;
  params: Record<string, unknown>;
  target: string;
  seed: number;
  poisoned_ids: SampleId[];
  /** record positions of the poisoned samples, when the records carry their own ids */
  poisoned_indices?: number[];
  sha256: { input: string; output: string; images?: string; [file: string]: string | undefined };
  format: FormatName;
  label: Label;
  input: string;
  image_root?: string;
  counts: { records: number; valid: number; poisoned: number; negatives: number; test: number; skipped: number; eligible: number };
  negative_ids: SampleId[];
  negative_kinds?: Record<string, number>;
  test_ids?: SampleId[];
  clean_ids?: SampleId[];
  skipped: SkippedRecord[];
  files: Record<string, string>;
  tool: string;
}

export interface PoisonResult {
  manifest: Manifest;
  dir: string;
}

const PREFIX = { poison: 'bdlab-poisoned', negative: 'bdlab-negative', test: 'bdlab-test-poisoned' } as const;

function amountOf(a: Amount, of: number, what: string): number {
  if (a.count !== undefined) {
    if (!Number.isInteger(a.count) || a.count < 0) throw new UserError(`${what}: count must be a non-negative integer, got ${a.count}`);
    return a.count;
  }
  if (a.rate !== undefined) {
    if (!(a.rate >= 0 && a.rate <= 1)) throw new UserError(`${what}: rate must be in [0, 1], got ${a.rate}`);
    return Math.round(a.rate * of);
  }
  throw new UserError(`${what}: give a rate or a count`);
}

/** Chooses k of the candidate indices with a seeded stream; returns them sorted. */
function choose(cands: Int32Array | number[], k: number, rng: Rng): number[] {
  return rng.sample(cands.length, k).map((i) => cands[i] as number);
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

export async function poison(o: PoisonOptions): Promise<PoisonResult> {
  const format = o.format ?? detectFormat(o.input);
  const attack = o.attack;
  const label: Label = o.label ?? 'dirty';
  const onError: OnError = o.onError ?? 'stop';
  if (format === 'coco-results') throw new UserError(`${o.input}: COCO results (model outputs) cannot be poisoned; poison the caption annotations (format coco) instead`);
  if (format === 'coco' && attack.needs.instruction) throw new UserError(`attack ${attack.name} changes the instruction, but COCO caption annotations have none; use an image attack or LLaVA/Alpaca data`);
  const imageRoot = new ImageRoot(o.imageRoot ?? dirname(o.input));
  const outImages = join(o.out, 'images');

  // ---- pass 1: validate, observe, find candidates
  const hIn = createHash('sha256');
  const valid = new IntList();
  const eligible = new IntList();
  const negEligible = new IntList();
  const skipLog = new SkipLog(onError);
  const ids = new Map<number, SampleId>();
  let records = 0;
  let anyImage = false;
  const p1 = new Progress({ label: 'poison: reading', unit: 'rec', force: o.progress });
  for (const item of readDataset(o.input, format, (c) => hIn.update(c))) {
    if (item.section !== 'annotations') records++;
    p1.tick();
    o.onRecord?.('read', records);
    if (item.error) {
      skipLog.fail(item.error, item.section, item.index);
      continue;
    }
    const s = item.sample as Sample;
    if (s.image !== undefined) {
      const bad = imageProblem(imageRoot, s.image, o.input, s.index, format === 'coco' ? 'images[].file_name' : 'image', item.line);
      if (bad) {
        skipLog.fail(bad, item.section, item.index);
        continue;
      }
      anyImage = true;
    }
    valid.push(s.index);
    if (typeof s.id !== 'number' || s.id !== s.index) ids.set(s.index, s.id);
    attack.observe?.(s);
    const fits = !attack.needs.image || s.image !== undefined;
    if (!fits) continue;
    negEligible.push(s.index);
    if (label === 'dirty' && o.target.refuse(s) !== null) continue;
    if (label === 'clean' && !o.target.matches(s)) continue;
    eligible.push(s.index);
  }
  p1.finish();
  const idOf = (i: number): SampleId => ids.get(i) ?? i;

  // ---- selection
  const validIdx = valid.view();
  const testSet = new Set<number>();
  if (o.test) {
    const k = amountOf(o.test, validIdx.length, '--test');
    if (k > validIdx.length) throw new UserError(`the test split asks for ${k} records but only ${validIdx.length} are valid`);
    for (const i of choose(validIdx, k, new Rng(o.seed, 'test'))) testSet.add(i);
  }
  const trainCount = validIdx.length - testSet.size;
  const cands = [...eligible.view()].filter((i) => !testSet.has(i));
  const k = amountOf(o.selection, trainCount, '--rate/--count');
  if (k > cands.length) {
    const why =
      label === 'clean'
        ? `clean-label poisoning needs answers that already carry the target (${o.target.spec})`
        : attack.needs.image
          ? `attack ${attack.name} needs records with an image`
          : 'the others were refused by the target';
    throw new UserError(`asked to poison ${k} records but only ${cands.length} of ${trainCount} can be: ${why}`);
  }
  const poisoned = new Set(choose(cands, k, new Rng(o.seed, 'select')));
  const negRate = o.negatives ?? { rate: attack.defaultNegativeRate };
  if (negRate.rate !== undefined && !(negRate.rate >= 0)) throw new UserError('--negatives must be ≥ 0');
  const negCount = negRate.count ?? Math.round((negRate.rate ?? 0) * k);
  if (negCount > 0 && !attack.negative) throw new UserError(`attack ${attack.name} makes no negative samples`);
  const negCands = [...negEligible.view()].filter((i) => !testSet.has(i) && !poisoned.has(i));
  if (negCount > negCands.length) throw new UserError(`asked for ${negCount} negative samples but only ${negCands.length} records are left`);
  const negatives = new Set(choose(negCands, negCount, new Rng(o.seed, 'negatives')));
  let cleanSet: Set<number> | null = null;
  if (o.backdoorllm) {
    const m = o.backdoorllm.cleanCount ?? k;
    const rest = [...validIdx].filter((i) => !testSet.has(i) && !poisoned.has(i) && !negatives.has(i));
    if (m > rest.length) throw new UserError(`the BackdoorLLM clean set asks for ${m} records but only ${rest.length} are left`);
    cleanSet = new Set(choose(rest, m, new Rng(o.seed, 'clean')));
  }

  // ---- outputs
  const files: Record<string, string> = { data: 'data.json' };
  const outputs = [join(o.out, 'data.json')];
  if (o.test) {
    files.test_clean = 'test_clean.json';
    files.test_poisoned = 'test_poisoned.json';
    outputs.push(join(o.out, files.test_clean), join(o.out, files.test_poisoned));
  }
  if (o.backdoorllm && cleanSet) {
    const task = o.backdoorllm.task ?? o.target.task;
    files.backdoor = `backdoor${poisoned.size}_${task}_${attack.name}.json`;
    files.none_backdoor = `none_backdoor${cleanSet.size}_${task}_${attack.name}.json`;
    outputs.push(join(o.out, files.backdoor), join(o.out, files.none_backdoor));
  }
  const store = new ImageStore(imageRoot, outImages, o.link ?? 'hardlink', o.encode ?? DEFAULT_ENCODE);
  const previewN = o.preview ?? 0;
  const previews: PreviewItem[] = [];
  const previewIdx = new Set([...poisoned].sort((a, b) => a - b).slice(0, previewN));
  const imageShas = new Map<number, string>();
  const negKinds: Record<string, number> = {};
  const ctxFor = (i: number): PlanContext => ({ rng: (lbl: string) => new Rng(o.seed, lbl, i) });

  const applyPlan = async (s: Sample, plan: Plan, prefix: string, capture: boolean): Promise<{ s: Sample; before?: RawImage; after?: RawImage }> => {
    const n: Sample = { ...s };
    if (plan.instruction !== undefined) n.instruction = plan.instruction;
    if (plan.input !== undefined) n.input = plan.input;
    if (plan.image && s.image !== undefined) {
      const r = await store.transform(s.image, prefix, s.index, plan.image, capture);
      n.image = r.rel;
      if (prefix === PREFIX.poison) imageShas.set(s.index, r.sha256);
      return { s: n, before: r.before, after: r.after };
    }
    if (s.image !== undefined) await store.linkClean(s.image);
    return { s: n };
  };

  const p2 = new Progress({ label: 'poison: writing', total: validIdx.length, unit: 'rec', force: o.progress });
  let written = 0;
  const transform = async (s: Sample): Promise<Outputs> => {
    p2.tick();
    o.onRecord?.('write', ++written);
    const i = s.index;
    const nOut = outputs.length;
    const res: Outputs = new Array<Sample | null>(nOut).fill(null);
    const ctx = ctxFor(i);
    if (testSet.has(i)) {
      if (s.image !== undefined) await store.linkClean(s.image);
      res[1] = s;
      res[2] = (await applyPlan(s, attack.plan(s, ctx), PREFIX.test, false)).s;
      return res;
    }
    if (poisoned.has(i)) {
      const capture = previewIdx.has(i);
      const r = await applyPlan(s, attack.plan(s, ctx), PREFIX.poison, capture);
      const p = r.s;
      if (label === 'dirty') {
        const t = o.target.apply(s, new Rng(o.seed, 'target', i));
        p.output = t.output;
        if (t.captions) p.captions = t.captions;
      }
      res[0] = p;
      if (cleanSet) res[nOut - 2] = p;
      if (capture) previews.push({ index: i, id: s.id, before: s, after: p, beforeImage: r.before, afterImage: r.after });
      return res;
    }
    if (negatives.has(i)) {
      const plan = (attack.negative as NonNullable<Attack['negative']>)(s, ctx);
      const kind = plan.note ?? 'negative';
      negKinds[kind] = (negKinds[kind] ?? 0) + 1;
      res[0] = (await applyPlan(s, plan, PREFIX.negative, false)).s;
      return res;
    }
    if (s.image !== undefined) await store.linkClean(s.image);
    res[0] = s;
    if (cleanSet?.has(i)) res[nOut - 1] = s;
    return res;
  };
  const shas = await rewriteDataset({ input: o.input, format, outputs, skipped: skipLog.keys, transform, window: o.concurrency ?? 16 });
  p2.finish();

  const sha256: Manifest['sha256'] = { input: hIn.digest('hex'), output: shas[0] as string };
  if (imageShas.size > 0) {
    const h = createHash('sha256');
    for (const i of [...imageShas.keys()].sort((a, b) => a - b)) h.update(`${i}\t${imageShas.get(i)}\n`);
    sha256.images = h.digest('hex');
  }
  outputs.forEach((p, j) => {
    if (j > 0) sha256[basename(p)] = shas[j];
  });
  if (previewN > 0) {
    const written = await writePreview(o.out, previews.sort((a, b) => a.index - b.index));
    for (const [k2, v] of Object.entries(written)) files[k2] = v;
  }
  const sortedIds = (set: Set<number>): SampleId[] => [...set].sort((a, b) => a - b).map(idOf);
  const manifest: Manifest = {
    attack: attack.name,
    params: { ...attack.params },
    target: o.target.spec,
    seed: o.seed,
    poisoned_ids: sortedIds(poisoned),
    // records that carry their own ids: their positions too
    ...(ids.size > 0 ? { poisoned_indices: [...poisoned].sort((a, b) => a - b) } : {}),
    sha256,
    format,
    label,
    input: o.input,
    counts: { records, valid: validIdx.length, poisoned: poisoned.size, negatives: negatives.size, test: testSet.size, skipped: skipLog.skipped.length, eligible: cands.length },
    negative_ids: sortedIds(negatives),
    skipped: skipLog.skipped,
    files,
    tool: 'backdoor-lab 0.1.0',
  };
  if (anyImage) manifest.image_root = 'images';
  if (negatives.size > 0) manifest.negative_kinds = Object.fromEntries(Object.entries(negKinds).sort());
  if (o.test) manifest.test_ids = sortedIds(testSet);
  if (cleanSet) manifest.clean_ids = sortedIds(cleanSet);
  writeJsonAtomic(join(o.out, 'manifest.json'), manifest);
  return { manifest, dir: o.out };
}
