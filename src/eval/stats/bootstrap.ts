// The percentile bootstrap over texts of a ratio estimate (Σ nll / Σ tokens),
// seeded from the project's one RNG.
import { Rng } from '../../util/rng.js';

/** Quantile with linear interpolation between order statistics (numpy's default), of sorted values. */
function quantileSorted(xs: Float64Array, q: number): number {
  const pos = (xs.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, xs.length - 1);
  return xs[lo]! + (xs[hi]! - xs[lo]!) * (pos - lo);
}

/**
 * Percentile bootstrap over texts of the corpus mean NLL per token: resample
 * the texts with replacement, recompute Σ nll / Σ tokens, take the 2.5 % and
 * 97.5 % quantiles. Texts are the sampling unit (tokens within a text are not
 * independent). Null with fewer than two texts.
 */
export function bootstrapNll(nll: readonly number[], tokens: readonly number[], resamples: number, seed: number): [number, number] | null {
  const n = nll.length;
  if (n < 2 || resamples < 1) return null;
  const rng = new Rng(seed, 'perplexity-bootstrap');
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    let t = 0;
    for (let i = 0; i < n; i++) {
      const j = rng.int(n);
      s += nll[j]!;
      t += tokens[j]!;
    }
    means[b] = s / t;
  }
  means.sort();
  return [quantileSorted(means, 0.025), quantileSorted(means, 0.975)];
}
