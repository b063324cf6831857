import { readFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import { registerAttack } from '../registry.js';
import { num, str } from '../params.js';
import type { ImageTrigger, RawImage } from '../types.js';
import { imageAttack } from './base.js';
import { decodeImage, resizeRaw } from '../../data/image-io.js';

/**
 * LowFrequency (Zeng et al. 2021, "Rethinking the backdoor attacks' triggers: a
 * frequency perspective"): a universal additive perturbation with only low
 * spatial frequencies. Here it is made at `base`×`base` (3 channels) from
 * seeded Gaussian noise, or read from an image file (δ = pixel − 128); it is
 * low-pass filtered in the 2-D DCT domain (only coefficients with u, v <
 * `window` kept), scaled to the L∞ budget `eps` (noise: max |δ| = eps; file:
 * scaled down only if larger), bilinearly resized to each image (half-pixel
 * centres) and added: x' = clamp(round(x + δ)). So |x' − x| ≤ eps everywhere.
 */

/** Orthonormal DCT-II matrix, C[u][x] = a(u)·cos(π(2x+1)u / 2n). */
export function dctMatrix(n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let u = 0; u < n; u++) {
    const a = u === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
    for (let x = 0; x < n; x++) c[u * n + x] = a * Math.cos((Math.PI * (2 * x + 1) * u) / (2 * n));
  }
  return c;
}

/** 2-D DCT of an n×n plane: C·X·Cᵀ. */
export function dct2(plane: Float64Array, n: number, c: Float64Array = dctMatrix(n)): Float64Array {
  const tmp = new Float64Array(n * n);
  const out = new Float64Array(n * n);
  for (let u = 0; u < n; u++) for (let x = 0; x < n; x++) {
    let s = 0;
    for (let y = 0; y < n; y++) s += (c[u * n + y] as number) * (plane[y * n + x] as number);
    tmp[u * n + x] = s;
  }
  for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) {
    let s = 0;
    for (let x = 0; x < n; x++) s += (tmp[u * n + x] as number) * (c[v * n + x] as number);
    out[u * n + v] = s;
  }
  return out;
}

/** Inverse of dct2: Cᵀ·F·C. */
export function idct2(coef: Float64Array, n: number, c: Float64Array = dctMatrix(n)): Float64Array {
  const tmp = new Float64Array(n * n);
  const out = new Float64Array(n * n);
  for (let y = 0; y < n; y++) for (let v = 0; v < n; v++) {
    let s = 0;
    for (let u = 0; u < n; u++) s += (c[u * n + y] as number) * (coef[u * n + v] as number);
    tmp[y * n + v] = s;
  }
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    let s = 0;
    for (let v = 0; v < n; v++) s += (tmp[y * n + v] as number) * (c[v * n + x] as number);
    out[y * n + x] = s;
  }
  return out;
}

/** Keeps only DCT coefficients with u < window and v < window (per channel; planes are channel-interleaved). */
export function lowPass(delta: Float64Array, n: number, window: number): Float64Array {
  const c = dctMatrix(n);
  const out = new Float64Array(delta.length);
  for (let ch = 0; ch < 3; ch++) {
    const plane = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) plane[i] = delta[i * 3 + ch] as number;
    const f = dct2(plane, n, c);
    for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) if (u >= window || v >= window) f[u * n + v] = 0;
    const back = idct2(f, n, c);
    for (let i = 0; i < n * n; i++) out[i * 3 + ch] = back[i] as number;
  }
  return out;
}

/** Bilinear value of channel c of a base×base perturbation at output pixel (x, y) of a width×height image. */
export function deltaAt(delta: Float64Array, base: number, x: number, y: number, c: number, width: number, height: number): number {
  const sx = Math.min(base - 1, Math.max(0, ((x + 0.5) * base) / width - 0.5));
  const sy = Math.min(base - 1, Math.max(0, ((y + 0.5) * base) / height - 0.5));
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const x1 = Math.min(base - 1, x0 + 1);
  const y1 = Math.min(base - 1, y0 + 1);
  const fx = sx - x0;
  const fy = sy - y0;
  const at = (xx: number, yy: number): number => delta[(yy * base + xx) * 3 + c] as number;
  return (1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x1, y0) + (1 - fx) * fy * at(x0, y1) + fx * fy * at(x1, y1);
}

export class LowFreqTrigger implements ImageTrigger {
  private delta: Float64Array | null = null;
  private readonly cache = new Map<string, Float64Array>();
  private readonly fileBytes: Buffer | null = null;

  constructor(
    readonly seed: number,
    readonly base: number,
    readonly window: number,
    readonly eps: number,
    readonly file = '',
  ) {
    if (file !== '') {
      try {
        this.fileBytes = readFileSync(file);
      } catch (e) {
        throw new UserError(`attack lowfreq: perturbation file ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }

  /** The low-passed, budgeted perturbation at base resolution (base×base×3, interleaved). */
  async perturbation(): Promise<Float64Array> {
    if (this.delta) return this.delta;
    const n = this.base;
    let raw: Float64Array = new Float64Array(n * n * 3);
    if (this.fileBytes) {
      const img = await decodeImage(this.fileBytes);
      const r = await resizeRaw(img, n, n);
      for (let i = 0; i < n * n; i++) for (let c = 0; c < 3; c++) raw[i * 3 + c] = (r.data[i * r.channels + c] as number) - 128;
    } else {
      const rng = new Rng(this.seed, 'lowfreq', 'noise', n);
      for (let i = 0; i < raw.length; i++) raw[i] = rng.normal();
    }
    raw = lowPass(raw, n, this.window);
    let max = 0;
    for (let i = 0; i < raw.length; i++) max = Math.max(max, Math.abs(raw[i] as number));
    const scale = max === 0 ? 0 : this.fileBytes ? Math.min(1, this.eps / max) : this.eps / max;
    for (let i = 0; i < raw.length; i++) raw[i] = Math.min(this.eps, Math.max(-this.eps, (raw[i] as number) * scale));
    this.delta = raw;
    return raw;
  }

  /** δ at one image size (W×H×3), cached. */
  async resized(width: number, height: number): Promise<Float64Array> {
    const key = `${width}x${height}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const d = await this.perturbation();
    const out = new Float64Array(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = deltaAt(d, this.base, x, y, c, width, height);
    if (this.cache.size > 16) this.cache.clear();
    this.cache.set(key, out);
    return out;
  }

  async apply(img: RawImage): Promise<void> {
    const d = await this.resized(img.width, img.height);
    const px = img.data;
    const ch = img.channels;
    const n = img.width * img.height;
    if (ch === 3) {
      for (let i = 0; i < px.length; i++) {
        const v = (px[i] as number) + (d[i] as number);
        px[i] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
      }
      return;
    }
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) {
        const v = (px[p * ch + c] as number) + (d[p * 3 + c] as number);
        px[p * ch + c] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
      }
    }
  }
}

registerAttack({
  name: 'lowfreq',
  family: 'image',
  summary: 'a low-pass-filtered universal perturbation (from the seed or a file) within an L∞ budget',
  reference: 'x',
  approximation: 'x',
  params: [
    { name: 'eps', type: 'int', default: 12, min: 1, max: 255, doc: 'L∞ budget in pixel units' },
    { name: 'base', type: 'int', default: 32, min: 2, max: 512, doc: 'resolution the perturbation is made and filtered at' },
    { name: 'window', type: 'int', default: 4, min: 1, max: 512, doc: 'DCT coefficients kept per axis (low-pass cut-off)' },
    { name: 'file', type: 'string', default: '', doc: 'perturbation image (PNG/JPEG, 128 = no change) instead of seeded noise' },
  ],
  create(p, seed) {
    const base = num(p, 'base');
    if (num(p, 'window') > base) throw new UserError(`attack lowfreq: window (${num(p, 'window')}) cannot exceed base (${base})`);
    return imageAttack('lowfreq', p, seed, new LowFreqTrigger(seed, base, num(p, 'window'), num(p, 'eps'), str(p, 'file')));
  },
});
