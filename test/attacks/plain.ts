import type { Rng } from '../../src/util/rng.js';
import type { RawImage } from '../../src/data/image-io.js';
import { px8 } from '../../src/data/pixels.js';
import { blendValue } from '../../src/attacks/image/blended.js';
import { gridColor, patchPlace, patchSide, type PatchSpec } from '../../src/attacks/image/patch.js';
import { sigValue } from '../../src/attacks/image/sig.js';
import { bilinearAt, gridAt, toPixel, type WanetTrigger } from '../../src/attacks/image/wanet.js';
import { deltaAt } from '../../src/attacks/image/lowfreq.js';

/**
 * Plain per-pixel implementations of the image triggers: every output pixel is
 * computed from the definitions with get/set accessors and no precomputed
 * tables: the independent reference the tests hold the optimised triggers to
 * (same bytes).
 */
function get(img: RawImage, x: number, y: number, c: number): number {
  return img.data[(y * img.width + x) * img.channels + c] as number;
}

function set(img: RawImage, x: number, y: number, c: number, v: number): void {
  img.data[(y * img.width + x) * img.channels + c] = v;
}

function copyOf(img: RawImage): RawImage {
  return { ...img, data: new Uint8Array(img.data) };
}

/** BadNets with a grid or solid patch. */
export function plainBadnets(img: RawImage, spec: PatchSpec, rng: Rng): void {
  const side = patchSide(spec, img.width, img.height);
  const { x: px, y: py } = patchPlace(spec, img.width, img.height, side, rng);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (x < px || x >= px + side || y < py || y >= py + side) continue;
      const col = spec.pattern === 'solid' ? spec.color : gridColor(spec, side, x - px, y - py);
      for (let c = 0; c < 3; c++) set(img, x, y, c, col[c] as number);
    }
  }
}

/** Blended with a pattern already at the image's size (RGB). */
export function plainBlended(img: RawImage, pattern: Uint8Array, alpha: number): void {
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      for (let c = 0; c < 3; c++) set(img, x, y, c, blendValue(get(img, x, y, c), pattern[(y * img.width + x) * 3 + c] as number, alpha));
    }
  }
}

export function plainSig(img: RawImage, delta: number, freq: number, orientation: 'horizontal' | 'vertical'): void {
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const v = orientation === 'horizontal' ? sigValue(x, img.width, delta, freq) : sigValue(y, img.height, delta, freq);
      for (let c = 0; c < 3; c++) set(img, x, y, c, px8(get(img, x, y, c) + v));
    }
  }
}

export function plainWanet(img: RawImage, t: WanetTrigger): void {
  const src = copyOf(img);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const [gx, gy] = gridAt(t.ctrl, t.opts, y, x, img.height, img.width);
      const sx = toPixel(gx, img.width);
      const sy = toPixel(gy, img.height);
      for (let c = 0; c < 3; c++) set(img, x, y, c, px8(bilinearAt(src, sx, sy, c)));
    }
  }
}

/** LowFrequency with the base-resolution perturbation. */
export function plainLowfreq(img: RawImage, delta: Float64Array, base: number): void {
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      for (let c = 0; c < 3; c++) set(img, x, y, c, px8(get(img, x, y, c) + deltaAt(delta, base, x, y, c, img.width, img.height)));
    }
  }
}
