import { readFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';
import { readJsonObjectFile } from '../../util/json-limits.js';
import { Rng } from '../../util/rng.js';
import { registerAttack } from '../registry.js';
import { num, str } from '../params.js';
import type { ImageTrigger, RawImage } from '../types.js';
import { imageAttack } from './base.js';
import { decodeImage } from '../../data/image-io.js';

/**
 * LowFrequency (Zeng et al. 2021, "Rethinking the backdoor attacks' triggers: a
 * frequency perspective"; BackdoorBench lf): a universal perturbation with only
 * low spatial frequencies, added to every poisoned image.
 *
 * - `perturbation=FILE`: the reference method. FILE is what `bdlab attack uap`
 *   writes (a universal adversarial perturbation found with DeepFool against a
 *   surrogate, Gaussian low-passed, in [0, 0.2]; src/attacks/image/uap.ts), or
 *   a PNG/JPEG whose pixel values are added as they are (BackdoorBench's
 *   `*_0_255.npy` patterns saved as an image). It is resized to each image
 *   (bilinear, half-pixel centres) and added: x' = clamp(round(x + p)), as
 *   BackdoorBench's SimpleAdditiveTrigger.
 * - without it, a stand-in: seeded Gaussian noise made at `base`×`base`,
 *   low-pass filtered in the 2-D DCT domain (coefficients with u, v < `window`
 *   kept), scaled to the L∞ budget `eps`, resized and added (|x' − x| ≤ eps).
 *   It has the frequency content but is not adversarial: the manifest says so.
 */

/** The file `bdlab attack uap` writes. */
export const UAP_FORMAT = 'bdlab/uap';

export interface UapFile {
  format: typeof UAP_FORMAT;
  width: number;
  height: number;
  /** The additive pattern v·255 in pixel units, RGB interleaved, base64 of uint8. */
  pattern: string;
  provenance: Record<string, unknown>;
}

/** Reads a perturbation: a `bdlab attack uap` file or an image of pixel values to add. Returns the pattern (RGB interleaved) and where it came from. */
export async function readPerturbation(path: string): Promise<{ width: number; height: number; pattern: Float64Array; provenance: Record<string, unknown> | null }> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UserError(`attack lowfreq: perturbation ${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const first = bytes.subarray(0, 64).toString('utf8').trimStart();
  if (first.startsWith('{')) {
    const j = readJsonObjectFile(path, 256 * 1024 * 1024, 'perturbation file');
    if (j.format !== UAP_FORMAT) throw new UserError(`${path}: not a perturbation file (format must be "${UAP_FORMAT}"; make one with bdlab attack uap)`);
    const w = j.width;
    const h = j.height;
    if (!Number.isInteger(w) || !Number.isInteger(h) || (w as number) < 1 || (h as number) < 1 || (w as number) * (h as number) > 1 << 26) throw new UserError(`${path}: width and height must be positive integers`);
    if (typeof j.pattern !== 'string') throw new UserError(`${path}: field "pattern": expected base64 text`);
    const raw = Buffer.from(j.pattern, 'base64');
    if (raw.length !== (w as number) * (h as number) * 3) throw new UserError(`${path}: field "pattern" holds ${raw.length} bytes, expected ${w}×${h}×3`);
    const prov = typeof j.provenance === 'object' && j.provenance !== null && !Array.isArray(j.provenance) ? (j.provenance as Record<string, unknown>) : {};
    return { width: w as number, height: h as number, pattern: Float64Array.from(raw), provenance: prov };
  }
  let img: RawImage;
  try {
    img = await decodeImage(bytes);
  } catch (e) {
    throw new UserError(`attack lowfreq: perturbation ${path}: neither a bdlab attack uap file nor an image (${(e as Error).message})`);
  }
  const pattern = new Float64Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) for (let c = 0; c < 3; c++) pattern[i * 3 + c] = img.data[i * img.channels + c] as number;
  return { width: img.width, height: img.height, pattern, provenance: null };
}

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
  return resampleAt(delta, base, base, x, y, c, width, height);
}

/** Bilinear value (half-pixel centres, edges clamped) of channel c of a sw×sh pattern at output pixel (x, y) of a width×height image. */
export function resampleAt(src: Float64Array, sw: number, sh: number, x: number, y: number, c: number, width: number, height: number): number {
  const sx = Math.min(sw - 1, Math.max(0, ((x + 0.5) * sw) / width - 0.5));
  const sy = Math.min(sh - 1, Math.max(0, ((y + 0.5) * sh) / height - 0.5));
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const x1 = Math.min(sw - 1, x0 + 1);
  const y1 = Math.min(sh - 1, y0 + 1);
  const fx = sx - x0;
  const fy = sy - y0;
  const at = (xx: number, yy: number): number => src[(yy * sw + xx) * 3 + c] as number;
  return (1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x1, y0) + (1 - fx) * fy * at(x0, y1) + fx * fy * at(x1, y1);
}

/** Adds a resized pattern to the image, rounding and clamping each channel. */
export function addPattern(img: RawImage, d: Float64Array): void {
  const px = img.data;
  const ch = img.channels;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      const v = (px[p * ch + c] as number) + (d[p * 3 + c] as number);
      px[p * ch + c] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
    }
  }
}

/** The seeded low-pass stand-in (no perturbation file). */
export class LowFreqTrigger implements ImageTrigger {
  private delta: Float64Array | null = null;
  private readonly cache = new Map<string, Float64Array>();

  constructor(
    readonly seed: number,
    readonly base: number,
    readonly window: number,
    readonly eps: number,
  ) {}

  /** The low-passed, budgeted perturbation at base resolution (base×base×3, interleaved). */
  async perturbation(): Promise<Float64Array> {
    if (this.delta) return this.delta;
    const n = this.base;
    let raw: Float64Array = new Float64Array(n * n * 3);
    const rng = new Rng(this.seed, 'lowfreq', 'noise', n);
    for (let i = 0; i < raw.length; i++) raw[i] = rng.normal();
    raw = lowPass(raw, n, this.window);
    let max = 0;
    for (let i = 0; i < raw.length; i++) max = Math.max(max, Math.abs(raw[i] as number));
    const scale = max === 0 ? 0 : this.eps / max;
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
    addPattern(img, await this.resized(img.width, img.height));
  }
}

/** A universal perturbation from a file, added as BackdoorBench's SimpleAdditiveTrigger does. */
export class PatternTrigger implements ImageTrigger {
  private src: Awaited<ReturnType<typeof readPerturbation>> | null = null;
  private readonly cache = new Map<string, Float64Array>();

  constructor(readonly path: string) {
    // fail at once on a missing file, before any record is read
    try {
      readFileSync(path, { flag: 'r' }).subarray(0, 0);
    } catch (e) {
      throw new UserError(`attack lowfreq: perturbation ${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  /** The file's provenance once read (null for an image). */
  get provenance(): Record<string, unknown> | null {
    return this.src?.provenance ?? null;
  }

  async source(): Promise<Awaited<ReturnType<typeof readPerturbation>>> {
    if (!this.src) this.src = await readPerturbation(this.path);
    return this.src;
  }

  async resized(width: number, height: number): Promise<Float64Array> {
    const key = `${width}x${height}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const s = await this.source();
    const out = new Float64Array(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = resampleAt(s.pattern, s.width, s.height, x, y, c, width, height);
    if (this.cache.size > 16) this.cache.clear();
    this.cache.set(key, out);
    return out;
  }

  async apply(img: RawImage): Promise<void> {
    addPattern(img, await this.resized(img.width, img.height));
  }
}

registerAttack({
  name: 'lowfreq',
  family: 'image',
  summary: 'a low-frequency universal perturbation added to the image: perturbation=FILE from bdlab attack uap (else a seeded low-pass stand-in)',
  reference: 'BackdoorBench lf (resource/lowFrequency: DeepFool UAP, gauss_smooth, normalised to [0, 0.2]; SimpleAdditiveTrigger)',
  approximation: 'without perturbation=FILE (made by bdlab attack uap against a surrogate) the perturbation is seeded low-pass noise, not an adversarial one',
  params: [
    { name: 'perturbation', type: 'string', default: '', doc: 'the universal perturbation: a bdlab attack uap file, or a PNG/JPEG of pixel values to add' },
    { name: 'eps', type: 'int', default: 12, min: 1, max: 255, doc: 'stand-in only: L∞ budget in pixel units' },
    { name: 'base', type: 'int', default: 32, min: 2, max: 512, doc: 'stand-in only: resolution the noise is made and filtered at' },
    { name: 'window', type: 'int', default: 4, min: 1, max: 512, doc: 'stand-in only: DCT coefficients kept per axis (low-pass cut-off)' },
  ],
  create(p, seed) {
    const file = str(p, 'perturbation');
    if (file !== '') {
      const t = new PatternTrigger(file);
      const a = imageAttack('lowfreq', p, seed, t);
      a.method = () => ({ source: 'uap', perturbation: file, provenance: t.provenance, approximation: null });
      return a;
    }
    const base = num(p, 'base');
    if (num(p, 'window') > base) throw new UserError(`attack lowfreq: window (${num(p, 'window')}) cannot exceed base (${base})`);
    const a = imageAttack('lowfreq', p, seed, new LowFreqTrigger(seed, base, num(p, 'window'), num(p, 'eps')));
    a.method = () => ({ source: 'seeded-noise', approximation: 'seeded low-pass noise stands in for the universal adversarial perturbation (give perturbation=FILE from bdlab attack uap)' });
    return a;
  },
});
