/**
 * Wilson score interval for a binomial proportion (Wilson 1927). Preferred
 * over the normal ("Wald") interval because it stays inside [0, 1] and keeps
 * near-nominal coverage at 0 or n successes and small n, exactly the regime of
 * attack success rates near 0 % or 100 % on a few hundred prompts.
 */

/** Two-sided 95 % standard normal quantile, Φ⁻¹(0.975). */
const Z95 = 1.959963984540054;

/**
 * Interval [lo, hi] as fractions for `successes` out of `n`; [0, 1] when n is
 * 0 (no information).
 */
export function wilson(successes: number, n: number, z = Z95): [number, number] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`wilson: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`wilson: successes must be an integer in [0, ${n}], got ${successes}`);
  }
  if (n === 0) return [0, 1];
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // The bounds are exactly 0 / 1 at the extremes; clamp away rounding noise.
  const lo = successes === 0 ? 0 : Math.max(0, center - half);
  const hi = successes === n ? 1 : Math.min(1, center + half);
  return [lo, hi];
}

/** Wilson interval in percent. */
export function wilsonPercent(successes: number, n: number, z = Z95): [number, number] {
  const [lo, hi] = wilson(successes, n, z);
  return [lo * 100, hi * 100];
}
