/**
 * The project's one seeded pseudo-random generator (no engine, no Math.random).
 *
 * Algorithm: **xoshiro128\*\*** (Blackman & Vigna, 2018; 32-bit state words,
 * period 2^128 − 1), seeded from a text key with **cyrb128** (a public-domain
 * 128-bit string hash built on Math.imul), so `derive(seed, 'sample', 17)` and
 * `derive(seed, 'select')` give independent streams that do not depend on the
 * order in which other streams were used. Same key → same numbers, on every
 * platform: only 32-bit integer arithmetic and IEEE doubles are involved.
 *
 * Derived quantities:
 * - `float()`: 53 random bits / 2^53, uniform in [0, 1);
 * - `int(n)`: uniform in [0, n) by rejection (no modulo bias), n ≤ 2^32;
 * - `normal()`: Box–Muller on two `float()`s (the sine branch is discarded);
 * - `shuffle`: Fisher–Yates from the end; `sample(n, k)`: Floyd's algorithm,
 *   returned sorted ascending.
 */
export type SeedPart = string | number;

const TWO32 = 4294967296;

/** cyrb128: four 32-bit words from a string. */
export function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** Canonical text of a seed key: parts joined with U+001F (unit separator). */
function seedKey(parts: readonly SeedPart[]): string {
  return parts.map((p) => (typeof p === 'number' ? `n${p}` : `s${p}`)).join('\u001f');
}

/** Checks a user seed: a non-negative safe integer. */
export function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  return seed;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for the key made of `parts` (e.g. `new Rng(seed, 'sample', i)`). */
  constructor(...parts: SeedPart[]) {
    const [a, b, c, d] = cyrb128(seedKey(parts));
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    if ((a | b | c | d) === 0) this.d = 1; // the all-zero state is a fixed point
  }

  /** Same as the constructor; reads better at call sites. */
  static derive(...parts: SeedPart[]): Rng {
    return new Rng(...parts);
  }

  /** Next 32 random bits as an unsigned integer (xoshiro128**). */
  u32(): number {
    const t = this.b << 9;
    let r = Math.imul(this.b, 5);
    r = Math.imul((r << 7) | (r >>> 25), 9);
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return r >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), n a positive integer ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO32) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    if (n === 1) return 0;
    const limit = TWO32 - (TWO32 % n);
    let x = this.u32();
    while (x >= limit) x = this.u32();
    return x % n;
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`Rng.range: empty range [${lo}, ${hi}]`);
    return lo + this.int(hi - lo + 1);
  }

  /** Uniform real in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A standard normal variate (Box–Muller, cosine branch). */
  normal(): number {
    let u = this.float();
    while (u === 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('Rng.pick: empty array');
    return xs[this.int(xs.length)] as T;
  }

  /** Shuffles in place (Fisher–Yates) and returns the array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i] as T;
      xs[i] = xs[j] as T;
      xs[j] = t;
    }
    return xs;
  }

  /** k distinct integers from [0, n), sorted ascending (Floyd's algorithm, O(k) memory). */
  sample(n: number, k: number): number[] {
    if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`Rng.sample: cannot take ${k} of ${n}`);
    const chosen = new Set<number>();
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return [...chosen].sort((x, y) => x - y);
  }

  /** A random permutation of [0, n) as an Int32Array. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i] as number;
      p[i] = p[j] as number;
      p[j] = t;
    }
    return p;
  }
}
