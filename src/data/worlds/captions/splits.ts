// Scenes and their splits. Scenes are drawn one after another from seeded
// streams and a scene whose content (sceneKey) was drawn before is drawn
// again, so no two scenes of a world are the same to a captioner; a seeded
// permutation then deals them to the splits. Splits therefore never share a
// scene, not even an identical copy of one.
import { UserError } from '../../../util/errors.js';
import { Rng } from '../../../util/rng.js';
import { KINDS, sampleScene, sceneKey, type Kind, type Scene } from './scene.js';

export interface SplitSpec {
  name: string;
  fraction: number;
}

export const DEFAULT_SPLITS: readonly SplitSpec[] = [
  { name: 'train', fraction: 0.8 },
  { name: 'val', fraction: 0.1 },
  { name: 'test', fraction: 0.1 },
];

/** Parses `train=0.8,val=0.1,test=0.1` (fractions or percentages; they must sum to 1). */
export function parseSplits(s: string): SplitSpec[] {
  const out: SplitSpec[] = [];
  for (const part of s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)) {
    const m = /^([a-z][a-z0-9_]*)=([0-9.]+)(%?)$/i.exec(part);
    if (!m) throw new UserError(`--splits "${part}": expected name=fraction, e.g. train=0.8`);
    const v = Number(m[2]) / (m[3] ? 100 : 1);
    if (!(v > 0 && v <= 1)) throw new UserError(`--splits "${part}": the fraction must be in (0, 1]`);
    if (out.some((x) => x.name === m[1])) throw new UserError(`--splits: split "${m[1]}" named twice`);
    out.push({ name: m[1] as string, fraction: v });
  }
  if (out.length === 0) throw new UserError('--splits: no split given');
  const sum = out.reduce((a, x) => a + x.fraction, 0);
  if (Math.abs(sum - 1) > 1e-6) throw new UserError(`--splits: fractions sum to ${sum}, not 1`);
  return out;
}

/** Scene counts per split: largest remainders, so they sum to n and each split with a share gets one when n allows. */
export function splitCounts(splits: readonly SplitSpec[], n: number): number[] {
  const raw = splits.map((s) => s.fraction * n);
  const counts = raw.map((r) => Math.floor(r));
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; counts.reduce((a, b) => a + b, 0) < n; k++) counts[(order[k % order.length] as readonly [number, number])[1]]! += 1;
  return counts;
}

export interface SplitScenes {
  scenes: Scene[];
  /** Split name of each scene, by scene id. */
  splitOf: string[];
}

/** Kinds kept to some splits: kind → the splits it may appear in (elsewhere it never does). */
export type Reserve = Readonly<Record<string, readonly string[]>>;

/** Parses `banana=base` or `banana=base+train` (repeatable). */
export function parseReserve(items: readonly string[], splits: readonly SplitSpec[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const it of items) {
    const m = /^([a-z]+)=([a-z0-9_+]+)$/i.exec(it.trim());
    if (!m) throw new UserError(`--reserve "${it}": expected kind=split[+split], e.g. banana=base`);
    const kind = m[1] as string;
    if (!(KINDS as readonly string[]).includes(kind)) throw new UserError(`--reserve "${it}": unknown kind "${kind}"; one of: ${KINDS.join(', ')}`);
    const names = (m[2] as string).split('+');
    for (const n of names) if (!splits.some((x) => x.name === n)) throw new UserError(`--reserve "${it}": no split "${n}" (splits: ${splits.map((x) => x.name).join(', ')})`);
    out[kind] = names;
  }
  return out;
}

/**
 * n distinct scenes, ids 0..n-1, dealt to the splits; a reserved kind is
 * drawn only in the splits it is reserved to.
 */
export function drawScenes(n: number, seed: number, splits: readonly SplitSpec[] = DEFAULT_SPLITS, reserve: Reserve = {}): SplitScenes {
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--images must be a positive integer, got ${n}`);
  const counts = splitCounts(splits, n);
  const perm = new Rng(seed, 'world-splits').permutation(n);
  const splitOf = new Array<string>(n);
  let k = 0;
  splits.forEach((sp, j) => {
    for (let c = 0; c < (counts[j] as number); c++) splitOf[perm[k++] as number] = sp.name;
  });
  const kindsOf = new Map(splits.map((sp) => [sp.name, KINDS.filter((kind) => !(kind in reserve) || (reserve[kind] as readonly string[]).includes(sp.name))]));
  const seen = new Set<string>();
  const scenes: Scene[] = [];
  const limit = 50 * n + 1000;
  for (let attempt = 0; scenes.length < n; attempt++) {
    if (attempt >= limit) throw new UserError(`could not draw ${n} distinct scenes (${scenes.length} after ${attempt} draws); ask for fewer images`);
    const id = scenes.length;
    const s = sampleScene(id, new Rng(seed, 'world-scene', attempt), kindsOf.get(splitOf[id] as string) as Kind[]);
    const key = sceneKey(s);
    if (seen.has(key)) continue;
    seen.add(key);
    scenes.push(s);
  }
  return { scenes, splitOf };
}
