// Rates and their intervals for the study: outcomes per test scene (aligned by
// scene across domains, so attacker- and user-domain rates of one victim are
// paired), pooled over seeds, with percentile bootstrap intervals over images
// (seeds held fixed) and over seeds and images (both resampled).
import { asrg } from '../../eval/asrg.js';
import { Rng } from '../../util/rng.js';

/** Per-scene outcomes of one output set: scored (not empty) and hit (the target appears). */
export interface Outcomes {
  scored: boolean[];
  hit: boolean[];
}

/** Hits and scored counts over the given scene positions (all when omitted). */
export function counts(o: Outcomes, idx?: ArrayLike<number>): { hits: number; n: number } {
  let hits = 0;
  let n = 0;
  const m = idx ? idx.length : o.scored.length;
  for (let k = 0; k < m; k++) {
    const i = idx ? (idx[k] as number) : k;
    if (!o.scored[i]) continue;
    n++;
    if (o.hit[i]) hits++;
  }
  return { hits, n };
}

/** Percent, or null when nothing was scored. */
export function pct(c: { hits: number; n: number }): number | null {
  return c.n === 0 ? null : (c.hits * 100) / c.n;
}

/** Pooled percent over several runs (each with its own scene positions). */
export function pooled(runs: ReadonlyArray<{ o: Outcomes; idx?: ArrayLike<number> }>): number | null {
  let hits = 0;
  let n = 0;
  for (const r of runs) {
    const c = counts(r.o, r.idx);
    hits += c.hits;
    n += c.n;
  }
  return pct({ hits, n });
}

/** ASR-G from two percentages; null when either is undefined. */
export function asrgOf(attacker: number | null, user: number | null): number | null {
  return attacker === null || user === null ? null : asrg(attacker, user);
}

/** The 2.5th and 97.5th percentiles of the finite values (linear interpolation); null when none. */
export function percentileInterval(values: readonly number[]): [number, number] | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const q = (p: number): number => {
    const pos = p * (v.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(v.length - 1, lo + 1);
    return (v[lo] as number) + ((v[hi] as number) - (v[lo] as number)) * (pos - lo);
  };
  return [q(0.025), q(0.975)];
}

/** Scene positions 0..n-1 drawn n times with replacement. */
export function resample(n: number, rng: Rng): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = rng.int(n);
  return idx;
}

/**
 * Bootstrap intervals of a statistic of per-seed runs. `stat` gets, for each
 * run it is to use (a run may appear several times), the scene positions to
 * use, and returns a value or null (left out).
 * - `images`: every seed once, scenes resampled within each;
 * - `seeds`: seeds resampled, and scenes within each drawn seed (two levels).
 */
export function bootstrapIntervals(
  nScenes: readonly number[],
  stat: (draw: ReadonlyArray<{ run: number; idx?: ArrayLike<number> }>) => number | null,
  resamples: number,
  label: string,
): { images: [number, number] | null; seeds: [number, number] | null } {
  const runs = nScenes.length;
  const rng = new Rng('study-bootstrap', label);
  const byImages: number[] = [];
  const bySeeds: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const a = stat(nScenes.map((n, run) => ({ run, idx: resample(n, rng) })));
    if (a !== null) byImages.push(a);
    const drawn = Array.from({ length: runs }, () => rng.int(runs));
    const s = stat(drawn.map((run) => ({ run, idx: resample(nScenes[run] as number, rng) })));
    if (s !== null) bySeeds.push(s);
  }
  return { images: percentileInterval(byImages), seeds: percentileInterval(bySeeds) };
}
