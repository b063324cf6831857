import { readFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import { registerAttack } from '../registry.js';
import { num, str } from '../params.js';
import type { ImageTrigger, RawImage } from '../types.js';
import { imageAttack, px8 } from './base.js';
import { decodeImage, resizeRaw } from '../../data/image-io.js';

/**
 * Blended (Chen et al. 2017): x' = round((1 − α)·x + α·t) over the whole
 * image. t is a trigger image resized to each image (lanczos3): a file the
 * user gives (`image=FILE`), the built-in cartoon (`pattern=builtin`, the
 * default) or a seeded uniform-noise pattern (`pattern=noise`, made at
 * `noise_size`² and scaled with nearest-neighbour).
 *
 * BackdoorBench blends a Hello Kitty photograph (resource/blended/
 * hello_kitty.jpeg) that this project cannot redistribute; the built-in
 * trigger is a deterministic cartoon cat face drawn in code (BUILTIN_SIZE²,
 * flat colours and hard edges, like the reference's), the same bytes on every
 * machine and for every seed.
 */
export const BUILTIN_SIZE = 224;

/** The built-in trigger image (RGB, BUILTIN_SIZE²): a white cat face with ears, eyes, nose, whiskers and a red bow on a pink ground. */
export function builtinPattern(): Uint8Array {
  const n = BUILTIN_SIZE;
  const out = new Uint8Array(n * n * 3);
  const inEllipse = (x: number, y: number, cx: number, cy: number, rx: number, ry: number): boolean => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;
  // a point inside triangle (a, b, c): the three edge functions agree in sign
  const inTriangle = (x: number, y: number, t: readonly number[]): boolean => {
    const [ax, ay, bx, by, cx, cy] = t as [number, number, number, number, number, number];
    const d1 = (x - bx) * (ay - by) - (ax - bx) * (y - by);
    const d2 = (x - cx) * (by - cy) - (bx - cx) * (y - cy);
    const d3 = (x - ax) * (cy - ay) - (cx - ax) * (y - ay);
    return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
  };
  const nearSegment = (x: number, y: number, ax: number, ay: number, bx: number, by: number, w: number): boolean => {
    const dx = bx - ax;
    const dy = by - ay;
    const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
    return Math.hypot(x - (ax + t * dx), y - (ay + t * dy)) <= w;
  };
  const earL = [52, 92, 62, 26, 104, 64];
  const earR = [172, 92, 162, 26, 120, 64];
  const whiskers = [
    [20, 120, 72, 128],
    [18, 142, 72, 140],
    [22, 164, 72, 152],
    [204, 120, 152, 128],
    [206, 142, 152, 140],
    [202, 164, 152, 152],
  ];
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      // pink ground with a gentle diagonal shade
      let c: [number, number, number] = [250 - ((x + y) >> 4), 170 + ((x - y + n) >> 5), 190 + (y >> 4)];
      if (inTriangle(x, y, earL) || inTriangle(x, y, earR) || inEllipse(x, y, 112, 132, 84, 66)) c = [252, 252, 250];
      if (whiskers.some(([ax, ay, bx, by]) => nearSegment(x, y, ax as number, ay as number, bx as number, by as number, 1.6))) c = [40, 30, 30];
      if (inEllipse(x, y, 80, 128, 7, 11) || inEllipse(x, y, 144, 128, 7, 11)) c = [20, 20, 24];
      if (inEllipse(x, y, 112, 148, 9, 6)) c = [250, 200, 20];
      // the bow on the right ear: two wings and a knot
      if (inTriangle(x, y, [150, 30, 150, 78, 178, 54]) || inTriangle(x, y, [206, 30, 206, 78, 178, 54])) c = [225, 20, 60];
      if (inEllipse(x, y, 178, 54, 9, 9)) c = [250, 60, 90];
      const o = (y * n + x) * 3;
      out[o] = c[0];
      out[o + 1] = c[1];
      out[o + 2] = c[2];
    }
  }
  return out;
}

export function noisePattern(seed: number, size: number): Uint8Array {
  const rng = new Rng(seed, 'blended', 'noise', size);
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < out.length; i += 4) {
    const v = rng.u32();
    out[i] = v & 255;
    if (i + 1 < out.length) out[i + 1] = (v >>> 8) & 255;
    if (i + 2 < out.length) out[i + 2] = (v >>> 16) & 255;
    if (i + 3 < out.length) out[i + 3] = v >>> 24;
  }
  return out;
}

/** Nearest-neighbour scaling of a square RGB pattern to width × height. */
export function scaleNearest(src: Uint8Array, size: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor((y * size) / height);
    for (let x = 0; x < width; x++) {
      const sx = Math.floor((x * size) / width);
      const s = (sy * size + sx) * 3;
      const o = (y * width + x) * 3;
      out[o] = src[s] as number;
      out[o + 1] = src[s + 1] as number;
      out[o + 2] = src[s + 2] as number;
    }
  }
  return out;
}

/** One blended channel value: the definition every implementation follows. */
export function blendValue(x: number, t: number, alpha: number): number {
  return px8((1 - alpha) * x + alpha * t);
}

/**
 * blendValue for every (x, t) pair: lut[x·256 + t]. Each entry is blendValue
 * itself, so the table path gives exactly the bytes of the formula.
 */
export function blendTable(alpha: number): Uint8Array {
  const lut = new Uint8Array(65536);
  for (let x = 0; x < 256; x++) for (let t = 0; t < 256; t++) lut[(x << 8) | t] = blendValue(x, t, alpha);
  return lut;
}

export type BlendPattern = 'builtin' | 'noise' | 'image';

export class BlendedTrigger implements ImageTrigger {
  private readonly cache = new Map<string, Uint8Array>();
  private source: RawImage | null = null;
  private readonly bytes: Buffer | null = null;
  private readonly lut: Uint8Array;

  constructor(
    readonly alpha: number,
    readonly pattern: BlendPattern,
    readonly seed: number,
    readonly noiseSize: number,
    readonly imagePath = '',
  ) {
    this.lut = blendTable(alpha);
    if (pattern === 'image') {
      if (imagePath === '') throw new UserError('attack blended: pattern=image needs image=PATH');
      try {
        this.bytes = readFileSync(imagePath);
      } catch (e) {
        throw new UserError(`attack blended: pattern image ${imagePath}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }

  /** The trigger pattern t at this size (RGB). */
  async patternFor(width: number, height: number): Promise<Uint8Array> {
    if (this.pattern === 'noise') return scaleNearest(noisePattern(this.seed, this.noiseSize), this.noiseSize, width, height);
    if (!this.source) {
      if (this.pattern === 'builtin') this.source = { data: builtinPattern(), width: BUILTIN_SIZE, height: BUILTIN_SIZE, channels: 3 };
      else {
        try {
          this.source = await decodeImage(this.bytes as Buffer);
        } catch (e) {
          throw new UserError(`attack blended: pattern image ${this.imagePath}: cannot decode: ${(e as Error).message}`);
        }
      }
    }
    const r = await resizeRaw(this.source, width, height);
    const out = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      out[i * 3] = r.data[i * r.channels] as number;
      out[i * 3 + 1] = r.data[i * r.channels + 1] as number;
      out[i * 3 + 2] = r.data[i * r.channels + 2] as number;
    }
    return out;
  }

  /** The pattern for this size, cached. */
  private async cached(width: number, height: number): Promise<Uint8Array> {
    const key = `${width}x${height}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const t = await this.patternFor(width, height);
    if (this.cache.size > 16) this.cache.clear();
    this.cache.set(key, t);
    return t;
  }

  async apply(img: RawImage): Promise<void> {
    const t = await this.cached(img.width, img.height);
    const lut = this.lut;
    const d = img.data;
    if (img.channels === 3) {
      for (let i = 0; i < d.length; i++) d[i] = lut[((d[i] as number) << 8) | (t[i] as number)] as number;
      return;
    }
    const ch = img.channels;
    const n = img.width * img.height;
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) {
        const o = p * ch + c;
        d[o] = lut[((d[o] as number) << 8) | (t[p * 3 + c] as number)] as number;
      }
    }
  }
}

registerAttack({
  name: 'blended',
  family: 'image',
  summary: 'blend a trigger image into the whole image: (1−α)x + αt; t your image=FILE, the built-in cartoon, or seeded noise',
  reference: 'BackdoorBench blended (blendedImageAttack, α 0.2, hello_kitty.jpeg); VL-Trojan (α 0.1 in the study configs)',
  approximation: "the default trigger image is a built-in cartoon drawn in code, not BackdoorBench's Hello Kitty photograph (not redistributable); give image=FILE to blend any other",
  params: [
    { name: 'alpha', type: 'number', default: 0.2, min: 0, max: 1, doc: 'blend weight α of the trigger (VL-Trojan study configs: 0.1)', ref: { value: 0.2, source: 'BackdoorBench attack_train_blended_alpha' } },
    { name: 'image', type: 'string', default: '', doc: 'trigger image file (PNG/JPEG), resized to each image; empty: the built-in pattern' },
    { name: 'pattern', type: 'enum', default: 'builtin', choices: ['builtin', 'image', 'noise'], doc: 'builtin (a fixed cartoon drawn in code), image (image=FILE; implied when image is given) or seeded uniform noise' },
    { name: 'noise_size', type: 'int', default: 224, min: 1, max: 4096, doc: 'side of the noise pattern before scaling to each image (pattern=noise)' },
  ],
  create(p, seed) {
    const image = str(p, 'image');
    let pattern = str(p, 'pattern') as BlendPattern;
    if (image !== '' && pattern === 'builtin') pattern = 'image';
    if (image !== '' && pattern === 'noise') throw new UserError('attack blended: give image=FILE or pattern=noise, not both');
    const t = new BlendedTrigger(num(p, 'alpha'), pattern, seed, num(p, 'noise_size'), image);
    return imageAttack('blended', { ...p, pattern }, seed, t);
  },
});
