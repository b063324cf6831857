/**
 * Pixel helpers shared by attacks, shifts and models: the one rounding rule
 * of 8-bit outputs, a separable Gaussian blur over float planes, and the
 * rectangle of new RGB pixels a patch trigger pastes.
 */
import type { RawImage } from './image-io.js';

/** A rectangle of RGB pixels (width × height × 3) that replaces the image's at (x, y). */
export interface RgbPatch {
  x: number;
  y: number;
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Copies a patch's RGB values into the image row by row (an alpha channel is kept). */
export function pasteRgb(img: RawImage, p: RgbPatch): void {
  const ch = img.channels;
  const d = img.data;
  if (ch === 3) {
    for (let py = 0; py < p.height; py++) d.set(p.rgb.subarray(py * p.width * 3, (py + 1) * p.width * 3), ((p.y + py) * img.width + p.x) * 3);
    return;
  }
  for (let py = 0; py < p.height; py++) {
    for (let px = 0; px < p.width; px++) {
      const o = ((p.y + py) * img.width + p.x + px) * ch;
      const s = (py * p.width + px) * 3;
      d[o] = p.rgb[s] as number;
      d[o + 1] = p.rgb[s + 1] as number;
      d[o + 2] = p.rgb[s + 2] as number;
    }
  }
}

/** Rounds a non-negative pixel value half up and clamps it to 0..255 (the one rounding rule of all image triggers). */
export function px8(v: number): number {
  if (v <= 0) return 0;
  if (v >= 255) return 255;
  return (v + 0.5) | 0;
}

/** Separable Gaussian blur with clamped borders. */
export function gaussianBlur(src: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = (k[i] as number) / sum;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let s = 0;
    for (let i = -r; i <= r; i++) s += (k[i + r] as number) * (src[y * w + Math.min(w - 1, Math.max(0, x + i))] as number);
    tmp[y * w + x] = s;
  }
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let s = 0;
    for (let i = -r; i <= r; i++) s += (k[i + r] as number) * (tmp[Math.min(h - 1, Math.max(0, y + i)) * w + x] as number);
    out[y * w + x] = s;
  }
  return out;
}
