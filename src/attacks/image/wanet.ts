import { Rng } from '../../util/rng.js';
import { registerAttack } from '../registry.js';
import { num } from '../params.js';
import type { ImageTrigger, Plan, RawImage } from '../types.js';
import { imageAttack } from './base.js';

/**
 * WaNet (Nguyen & Tran, ICLR 2021): a smooth warping field.
 *
 * As in the reference code: a k×k field of uniform(−1, 1) offsets (2 channels),
 * normalised by its mean absolute value, upsampled to H×W with bicubic
 * interpolation (A = −0.75, align_corners=True, border-clamped taps); the
 * sampling grid is (identity + s·noise / size)·grid_rescale clamped to [−1, 1]
 * and the image is resampled bilinearly (align_corners=True). Noise mode
 * ("cross" samples, which keep their clean answer) adds uniform(−1, 1)/size to
 * the grid per pixel. Output pixels are rounded half up. With s = 0 and
 * grid_rescale = 1 the warp is the identity.
 */
export interface WanetOptions {
  k: number;
  s: number;
  gridRescale: number;
}

/** The k×k×2 control field: uniform(−1, 1) divided by its mean absolute value. */
export function wanetControl(seed: number, k: number): Float64Array {
  const rng = new Rng(seed, 'wanet', 'field', k);
  const f = new Float64Array(2 * k * k);
  let sum = 0;
  for (let i = 0; i < f.length; i++) {
    const v = rng.float() * 2 - 1;
    f[i] = v;
    sum += Math.abs(v);
  }
  const mean = sum / f.length;
  for (let i = 0; i < f.length; i++) f[i] = (f[i] as number) / mean;
  return f;
}

function cubic1(x: number, A: number): number {
  return ((A + 2) * x - (A + 3)) * x * x + 1;
}
function cubic2(x: number, A: number): number {
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}
/** PyTorch's bicubic weights for fraction t (A = −0.75). */
export function cubicWeights(t: number): [number, number, number, number] {
  const A = -0.75;
  return [cubic2(t + 1, A), cubic1(t, A), cubic1(1 - t, A), cubic2(2 - t, A)];
}

/** Source coordinate and fraction for output index `i` (align_corners=True). */
function alignCorners(i: number, inSize: number, outSize: number): [number, number] {
  const scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  const real = scale * i;
  const base = Math.floor(real);
  return [base, real - base];
}

/** One channel of the bicubically upsampled control field at output pixel (y, x). */
export function controlAt(ctrl: Float64Array, k: number, channel: number, y: number, x: number, height: number, width: number): number {
  const [by, ty] = alignCorners(y, k, height);
  const [bx, tx] = alignCorners(x, k, width);
  const wy = cubicWeights(ty);
  const wx = cubicWeights(tx);
  let acc = 0;
  for (let m = 0; m < 4; m++) {
    const yy = Math.min(Math.max(by - 1 + m, 0), k - 1);
    let row = 0;
    for (let n = 0; n < 4; n++) {
      const xx = Math.min(Math.max(bx - 1 + n, 0), k - 1);
      row += (wx[n] as number) * (ctrl[channel * k * k + yy * k + xx] as number);
    }
    acc += (wy[m] as number) * row;
  }
  return acc;
}

/** Normalised grid coordinate (in [−1, 1]) for output pixel (y, x), channel 0 = x, 1 = y. */
export function gridAt(ctrl: Float64Array, o: WanetOptions, y: number, x: number, height: number, width: number, extra?: [number, number]): [number, number] {
  const idX = width > 1 ? -1 + (2 * x) / (width - 1) : 0;
  const idY = height > 1 ? -1 + (2 * y) / (height - 1) : 0;
  let gx = (idX + (o.s * controlAt(ctrl, o.k, 0, y, x, height, width)) / width) * o.gridRescale;
  let gy = (idY + (o.s * controlAt(ctrl, o.k, 1, y, x, height, width)) / height) * o.gridRescale;
  gx = Math.min(1, Math.max(-1, gx));
  gy = Math.min(1, Math.max(-1, gy));
  if (extra) {
    gx = Math.min(1, Math.max(-1, gx + extra[0] / width));
    gy = Math.min(1, Math.max(-1, gy + extra[1] / height));
  }
  return [gx, gy];
}

/** Bilinear sample of channel c at pixel coordinates (sx, sy); taps outside the image count as 0 (grid_sample's zero padding). */
export function bilinearAt(img: RawImage, sx: number, sy: number, c: number): number {
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const fx = sx - x0;
  const fy = sy - y0;
  const tap = (xx: number, yy: number): number => (xx < 0 || yy < 0 || xx >= img.width || yy >= img.height ? 0 : (img.data[(yy * img.width + xx) * img.channels + c] as number));
  return (1 - fx) * (1 - fy) * tap(x0, y0) + fx * (1 - fy) * tap(x0 + 1, y0) + (1 - fx) * fy * tap(x0, y0 + 1) + fx * fy * tap(x0 + 1, y0 + 1);
}

/** Pixel coordinate from a normalised one (align_corners=True). */
export function toPixel(g: number, size: number): number {
  return ((g + 1) / 2) * (size - 1);
}

interface WarpTable {
  /** flat index (y0·W + x0) of the top-left tap, per output pixel */
  base: Int32Array;
  /** four bilinear weights per output pixel (tl, tr, bl, br); taps outside the image get weight 0 */
  w: Float64Array;
}

export class WanetTrigger implements ImageTrigger {
  readonly ctrl: Float64Array;
  private readonly grids = new Map<string, Float64Array>();
  private readonly tables = new Map<string, WarpTable>();

  constructor(
    readonly opts: WanetOptions,
    readonly seed: number,
  ) {
    this.ctrl = wanetControl(seed, opts.k);
  }

  /** The clamped sampling grid (gx, gy per pixel) for one image size, cached. */
  grid(width: number, height: number): Float64Array {
    const key = `${width}x${height}`;
    let g = this.grids.get(key);
    if (!g) {
      g = new Float64Array(width * height * 2);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const [gx, gy] = gridAt(this.ctrl, this.opts, y, x, height, width);
          g[(y * width + x) * 2] = gx;
          g[(y * width + x) * 2 + 1] = gy;
        }
      }
      if (this.grids.size > 16) this.grids.clear();
      this.grids.set(key, g);
    }
    return g;
  }

  /** The warp for one image size (and optionally per-pixel noise), as gather indices and weights. */
  table(width: number, height: number, noise?: Float64Array): WarpTable {
    const key = `${width}x${height}`;
    if (!noise) {
      const hit = this.tables.get(key);
      if (hit) return hit;
    }
    const grid = this.grid(width, height);
    const n = width * height;
    const base = new Int32Array(n);
    const w = new Float64Array(n * 4);
    for (let p = 0; p < n; p++) {
      let gx = grid[p * 2] as number;
      let gy = grid[p * 2 + 1] as number;
      if (noise) {
        gx = Math.min(1, Math.max(-1, gx + (noise[p * 2] as number) / width));
        gy = Math.min(1, Math.max(-1, gy + (noise[p * 2 + 1] as number) / height));
      }
      const sx = toPixel(gx, width);
      const sy = toPixel(gy, height);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      let w01 = fx * (1 - fy);
      let w10 = (1 - fx) * fy;
      let w11 = fx * fy;
      // zero padding: taps beyond the last row/column contribute nothing
      if (x0 + 1 >= width) {
        w01 = 0;
        w11 = 0;
      }
      if (y0 + 1 >= height) {
        w10 = 0;
        w11 = 0;
      }
      base[p] = y0 * width + x0;
      w[p * 4] = (1 - fx) * (1 - fy);
      w[p * 4 + 1] = w01;
      w[p * 4 + 2] = w10;
      w[p * 4 + 3] = w11;
    }
    const t = { base, w };
    if (!noise) {
      if (this.tables.size > 16) this.tables.clear();
      this.tables.set(key, t);
    }
    return t;
  }

  /** Warps the image through a table. */
  static warp(img: RawImage, t: WarpTable): void {
    const { width, height, channels: ch } = img;
    const src = new Uint8Array(img.data); // the warp reads the original pixels
    const d = img.data;
    const n = width * height;
    const row = width * ch;
    for (let p = 0; p < n; p++) {
      const b = (t.base[p] as number) * ch;
      const w00 = t.w[p * 4] as number;
      const w01 = t.w[p * 4 + 1] as number;
      const w10 = t.w[p * 4 + 2] as number;
      const w11 = t.w[p * 4 + 3] as number;
      const o = p * ch;
      for (let c = 0; c < 3; c++) {
        const v =
          w00 * (src[b + c] as number) +
          (w01 === 0 ? 0 : w01 * (src[b + ch + c] as number)) +
          (w10 === 0 ? 0 : w10 * (src[b + row + c] as number)) +
          (w11 === 0 ? 0 : w11 * (src[b + row + ch + c] as number));
        d[o + c] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
      }
    }
  }

  apply(img: RawImage): void {
    WanetTrigger.warp(img, this.table(img.width, img.height));
  }

  /** Noise mode: the warp plus uniform(−1, 1)/size per pixel, drawn from the sample's stream. */
  applyNoise(img: RawImage, rng: Rng): void {
    const n = img.width * img.height;
    const noise = new Float64Array(n * 2);
    for (let i = 0; i < noise.length; i++) noise[i] = rng.float() * 2 - 1;
    WanetTrigger.warp(img, this.table(img.width, img.height, noise));
  }
}

registerAttack({
  name: 'wanet',
  family: 'image',
  summary: 'a smooth warping field (k 4, s 0.5); 2 noise-mode ("cross") samples per poisoned one keep their answers',
  reference: 'BackdoorBench wanet (attack/wanet.py, config/attack/wanet/default.yaml)',
  approximation: null,
  params: [
    { name: 'k', type: 'int', default: 4, min: 2, max: 1024, doc: 'control grid size', ref: { value: 4, source: 'BackdoorBench wanet default' } },
    { name: 's', type: 'number', default: 0.5, min: 0, doc: 'warp strength', ref: { value: 0.5, source: 'BackdoorBench wanet default' } },
    { name: 'grid_rescale', type: 'number', default: 1, min: 0, doc: 'grid rescale factor (1: none)', ref: { value: 1, source: 'BackdoorBench wanet default' } },
    {
      name: 'cross_ratio',
      type: 'number',
      default: 2,
      min: 0,
      doc: 'noise-mode ("cross") samples per poisoned sample: the warp plus uniform(−1, 1)/size per pixel, answers kept; the poisoner makes them as negatives (0: none)',
      ref: { value: 2, source: 'BackdoorBench wanet default, rho_n = pratio · cross_ratio' },
    },
  ],
  create(p, seed) {
    const t = new WanetTrigger({ k: num(p, 'k'), s: num(p, 's'), gridRescale: num(p, 'grid_rescale') }, seed);
    return imageAttack('wanet', p, seed, t, {
      defaultNegativeRate: num(p, 'cross_ratio'),
      negative: (_s, ctx): Plan => {
        const rng = ctx.rng('image');
        return { image: (img) => t.applyNoise(img, rng), note: 'noise' };
      },
    });
  },
});
