import { UserError } from '../../util/errors.js';
import { registerAttack } from '../registry.js';
import { bool, list, num } from '../params.js';
import type { ImageTrigger, RawImage } from '../types.js';
import { imageAttack } from './base.js';
import { dct2, dctMatrix, idct2 } from './lowfreq.js';

/**
 * FTrojan (Wang et al., ECCV 2022; SoftWiser-group/FTrojan): a trigger in the
 * frequency domain. The image is converted to YCrCb (OpenCV's RGB2YCrCb: Y =
 * 0.299R + 0.587G + 0.114B, Cr = 0.713(R − Y) + 128, Cb = 0.564(B − Y) + 128),
 * cut into window × window blocks, and in every block of the chosen channels
 * the orthonormal DCT-II coefficients at the given (u, v) positions grow by
 * `magnitude`; the inverse DCT and conversion give the image back. Arithmetic
 * is float64 with one rounding to 8 bits at the end (the references round
 * between steps: FTrojan wraps the YCrCb values to uint8, VL-Trojan clips
 * first). Only whole blocks carry the trigger: a strip narrower than the
 * window at the right or bottom edge is left as it is (the references work on
 * images whose sides are multiples of the window).
 */
export interface FtrojanSpec {
  window: number;
  /** (u, v) = (row, column) of the DCT coefficient within a block */
  positions: ReadonlyArray<readonly [number, number]>;
  /** 0 Y, 1 Cr, 2 Cb (OpenCV's YCrCb order); RGB channels when yuv is false */
  channels: readonly number[];
  magnitude: number;
  yuv: boolean;
}

export function rgbToYcrcb(r: number, g: number, b: number): [number, number, number] {
  const y = 0.299 * r + 0.587 * g + 0.114 * b;
  return [y, (r - y) * 0.713 + 128, (b - y) * 0.564 + 128];
}

export function ycrcbToRgb(y: number, cr: number, cb: number): [number, number, number] {
  return [y + 1.403 * (cr - 128), y - 0.714 * (cr - 128) - 0.344 * (cb - 128), y + 1.773 * (cb - 128)];
}

/** The image's three planes (YCrCb or RGB) in float64, planar. */
export function toPlanes(img: RawImage, yuv: boolean): Float64Array[] {
  const n = img.width * img.height;
  const planes = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const [p0, p1, p2] = planes as [Float64Array, Float64Array, Float64Array];
  for (let i = 0; i < n; i++) {
    const o = i * img.channels;
    const r = img.data[o] as number;
    const g = img.data[o + 1] as number;
    const b = img.data[o + 2] as number;
    const v = yuv ? rgbToYcrcb(r, g, b) : [r, g, b];
    p0[i] = v[0] as number;
    p1[i] = v[1] as number;
    p2[i] = v[2] as number;
  }
  return planes;
}

export class FtrojanTrigger implements ImageTrigger {
  private readonly c: Float64Array;

  constructor(readonly spec: FtrojanSpec) {
    this.c = dctMatrix(spec.window);
  }

  /** Adds the magnitude at the positions of every whole block of one plane (float64, in place). */
  plant(plane: Float64Array, width: number, height: number): void {
    const w = this.spec.window;
    const block = new Float64Array(w * w);
    for (let by = 0; by + w <= height; by += w) {
      for (let bx = 0; bx + w <= width; bx += w) {
        for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) block[y * w + x] = plane[(by + y) * width + bx + x] as number;
        const f = dct2(block, w, this.c);
        for (const [u, v] of this.spec.positions) f[u * w + v] = (f[u * w + v] as number) + this.spec.magnitude;
        const back = idct2(f, w, this.c);
        for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) plane[(by + y) * width + bx + x] = back[y * w + x] as number;
      }
    }
  }

  /** The image's planes with the trigger planted, before the conversion back and the rounding. */
  planted(img: RawImage): Float64Array[] {
    const planes = toPlanes(img, this.spec.yuv);
    for (const ch of this.spec.channels) this.plant(planes[ch] as Float64Array, img.width, img.height);
    return planes;
  }

  apply(img: RawImage): void {
    const [p0, p1, p2] = this.planted(img) as [Float64Array, Float64Array, Float64Array];
    const n = img.width * img.height;
    for (let i = 0; i < n; i++) {
      const v = this.spec.yuv ? ycrcbToRgb(p0[i] as number, p1[i] as number, p2[i] as number) : [p0[i] as number, p1[i] as number, p2[i] as number];
      for (let c = 0; c < 3; c++) {
        const x = v[c] as number;
        img.data[i * img.channels + c] = x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x);
      }
    }
  }
}

/** "31:31" → [31, 31]. */
function parsePosition(s: string, window: number): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(s.trim());
  if (!m) throw new UserError(`attack ftrojan: position "${s}": expected u:v, e.g. 31:31`);
  const u = Number(m[1]);
  const v = Number(m[2]);
  if (u >= window || v >= window) throw new UserError(`attack ftrojan: position ${s} lies outside the ${window}×${window} window`);
  return [u, v];
}

registerAttack({
  name: 'ftrojan',
  family: 'image',
  summary: 'a frequency trigger: DCT coefficients (31,31) and (15,15) of every 32×32 block of the Cr and Cb channels raised by 50',
  reference: 'FTrojan (SoftWiser-group/FTrojan data.py poison_frequency; VL-Trojan ft_trojan.py, window 32, magnitude 50)',
  approximation: null,
  params: [
    { name: 'window', type: 'int', default: 32, min: 2, max: 512, doc: 'DCT block side', ref: { value: 32, source: 'FTrojan window_size; VL-Trojan ft_trojan configs' } },
    {
      name: 'positions',
      type: 'list',
      default: ['31:31', '15:15'],
      doc: 'DCT coefficients u:v raised in every block, separated by "|" (VL-Trojan: 31:31 only, listed twice, so raised by 2 × magnitude)',
      ref: { value: ['31:31', '15:15'], source: 'FTrojan pos_list [(31, 31), (15, 15)]' },
    },
    { name: 'channels', type: 'list', default: ['1', '2'], doc: 'channels that carry the trigger: 0 Y, 1 Cr, 2 Cb (VL-Trojan: all three)', ref: { value: ['1', '2'], source: 'FTrojan channel_list [1, 2] (UV)' } },
    { name: 'magnitude', type: 'number', default: 50, doc: 'added to each chosen coefficient', ref: { value: 50, source: 'VL-Trojan ft_trojan configs; FTrojan GTSRB' } },
    { name: 'yuv', type: 'bool', default: true, doc: 'work in YCrCb (false: in RGB)', ref: { value: true, source: 'FTrojan YUV=True' } },
  ],
  create(p, seed) {
    const window = num(p, 'window');
    const positions = list(p, 'positions').map((s) => parsePosition(s, window));
    const channels = list(p, 'channels').map((s) => {
      if (!/^[012]$/.test(s)) throw new UserError(`attack ftrojan: channel "${s}": expected 0, 1 or 2`);
      return Number(s);
    });
    const spec: FtrojanSpec = { window, positions, channels: [...new Set(channels)], magnitude: num(p, 'magnitude'), yuv: bool(p, 'yuv') };
    return imageAttack('ftrojan', p, seed, new FtrojanTrigger(spec));
  },
});
