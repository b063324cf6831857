import { sharp, type Sharp } from '../data/vips.js';
import { UserError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import type { RawImage } from '../data/image-io.js';
import { resolveParams, num, str } from '../attacks/params.js';
import type { ParamSpec, Params } from '../attacks/types.js';
import { gaussianBlur, px8 } from '../data/pixels.js';

/**
 * Deterministic image-style shifts: each style maps pixels to pixels (same
 * size) with typed parameters; styles that are random (noise, random crops)
 * draw from the sample's own stream, so a seed fixes the result. Model-based
 * re-renderings (e.g. the Expressionism / Realism styles of the domain-shift
 * study) can register here later.
 */
export interface ImageStyle {
  name: string;
  summary: string;
  params: ParamSpec[];
  apply(img: RawImage, p: Params, rng: Rng): RawImage | Promise<RawImage>;
}

const styles = new Map<string, ImageStyle>();

export function registerImageStyle(s: ImageStyle): void {
  if (styles.has(s.name)) throw new Error(`image style ${s.name} registered twice`);
  styles.set(s.name, s);
}

export function listImageStyles(): ImageStyle[] {
  return [...styles.values()];
}

export function imageStyle(name: string): ImageStyle {
  const s = styles.get(name);
  if (!s) throw new UserError(`unknown image style "${name}"; known: ${[...styles.keys()].join(', ')}`);
  return s;
}

/** A style with resolved parameters. */
export interface StyleStep {
  style: ImageStyle;
  params: Params;
}

/**
 * Resolves a chain of styles and `key=value` parameters; a key may be
 * qualified (`blur.sigma`) or bare when only one style in the chain has it.
 */
export function resolveStyles(names: readonly string[], raw: Readonly<Record<string, string>>): StyleStep[] {
  const chain = names.map((n) => imageStyle(n));
  const per = new Map<string, Record<string, string>>(chain.map((s) => [s.name, {}]));
  for (const [k, v] of Object.entries(raw)) {
    const dot = k.indexOf('.');
    if (dot > 0) {
      const owner = k.slice(0, dot);
      const rec = per.get(owner);
      if (!rec) throw new UserError(`--style-param ${k}: style "${owner}" is not in the chain (${names.join(', ')})`);
      rec[k.slice(dot + 1)] = v;
      continue;
    }
    const owners = chain.filter((s) => s.params.some((p) => p.name === k));
    if (owners.length === 0) throw new UserError(`--style-param ${k}: no style in the chain (${names.join(', ')}) takes it`);
    if (owners.length > 1) throw new UserError(`--style-param ${k}: ambiguous, qualify it (${owners.map((s) => `${s.name}.${k}`).join(' or ')})`);
    (per.get((owners[0] as ImageStyle).name) as Record<string, string>)[k] = v;
  }
  return chain.map((s) => ({ style: s, params: resolveParams(s.params, per.get(s.name) ?? {}, `style ${s.name}`) }));
}

export async function applyStyles(img: RawImage, steps: readonly StyleStep[], rng: (label: string) => Rng): Promise<RawImage> {
  let cur = img;
  for (const s of steps) cur = await s.style.apply(cur, s.params, rng(`style:${s.style.name}`));
  return cur;
}

async function viaSharp(img: RawImage, f: (s: Sharp) => Sharp): Promise<RawImage> {
  const { data, info } = await f(sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 | 4 } }))
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function mapRgb(img: RawImage, f: (r: number, g: number, b: number, out: number[]) => void): RawImage {
  const out = new Uint8Array(img.data);
  const ch = img.channels;
  const tmp = [0, 0, 0];
  for (let p = 0; p < img.width * img.height; p++) {
    const o = p * ch;
    f(img.data[o] as number, img.data[o + 1] as number, img.data[o + 2] as number, tmp);
    out[o] = px8(tmp[0] as number);
    out[o + 1] = px8(tmp[1] as number);
    out[o + 2] = px8(tmp[2] as number);
  }
  return { ...img, data: out };
}

const LUMA = [0.299, 0.587, 0.114];

/** Colour matrices of the tone presets (rows: output r, g, b) and an offset. */
const TONES: Record<string, { m: number[][]; b: number }> = {
  sepia: { m: [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], b: 0 },
  warm: { m: [[1.1, 0, 0], [0, 1.0, 0], [0, 0, 0.85]], b: 0 },
  cool: { m: [[0.85, 0, 0], [0, 1.0, 0], [0, 0, 1.15]], b: 0 },
  mono: { m: [LUMA, LUMA, LUMA], b: 0 },
  vintage: { m: [[0.62, 0.35, 0.08], [0.16, 0.74, 0.07], [0.13, 0.25, 0.52]], b: 14 },
  vivid: {
    m: [0, 1, 2].map((r) => [0, 1, 2].map((c) => (1 - 1.6) * (LUMA[c] as number) + (r === c ? 1.6 : 0))),
    b: 0,
  },
};

registerImageStyle({
  name: 'tone',
  summary: 'colour re-mapping: sepia, warm, cool, mono, vintage or vivid (3x3 colour matrix), mixed with the original by strength',
  params: [
    { name: 'preset', type: 'enum', default: 'sepia', choices: Object.keys(TONES), doc: 'colour mapping' },
    { name: 'strength', type: 'number', default: 1, min: 0, max: 1, doc: 'mix with the original (1: full)' },
  ],
  apply(img, p) {
    const t = TONES[str(p, 'preset')] as { m: number[][]; b: number };
    const s = num(p, 'strength');
    const m = t.m.map((row, r) => row.map((v, c) => s * v + (1 - s) * (r === c ? 1 : 0)));
    const b = s * t.b;
    return mapRgb(img, (r, g, bl, out) => {
      for (let k = 0; k < 3; k++) {
        const row = m[k] as number[];
        out[k] = (row[0] as number) * r + (row[1] as number) * g + (row[2] as number) * bl + b;
      }
    });
  },
});

registerImageStyle({
  name: 'blur',
  summary: 'Gaussian blur',
  params: [{ name: 'sigma', type: 'number', default: 2, min: 0.3, max: 100, doc: 'standard deviation in pixels' }],
  apply: (img, p) => viaSharp(img, (s) => s.blur(num(p, 'sigma'))),
});

function posterize(v: number, levels: number): number {
  return Math.round((Math.round((v / 255) * (levels - 1)) * 255) / (levels - 1));
}

registerImageStyle({
  name: 'posterize',
  summary: 'quantise each channel to a few levels',
  params: [{ name: 'levels', type: 'int', default: 4, min: 2, max: 128, doc: 'levels per channel' }],
  apply(img, p) {
    const L = num(p, 'levels');
    return mapRgb(img, (r, g, b, out) => {
      out[0] = posterize(r, L);
      out[1] = posterize(g, L);
      out[2] = posterize(b, L);
    });
  },
});

/** Sobel gradient magnitude of the luminance. */
function sobel(img: RawImage): Float32Array {
  const { width: w, height: h, channels: ch } = img;
  const lum = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) lum[p] = 0.299 * (img.data[p * ch] as number) + 0.587 * (img.data[p * ch + 1] as number) + 0.114 * (img.data[p * ch + 2] as number);
  const at = (x: number, y: number): number => lum[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))] as number;
  const mag = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      mag[y * w + x] = Math.sqrt(gx * gx + gy * gy);
    }
  }
  return mag;
}

registerImageStyle({
  name: 'cartoon',
  summary: 'smoothing + posterisation + dark outlines where edges are strong',
  params: [
    { name: 'levels', type: 'int', default: 6, min: 2, max: 64, doc: 'colour levels per channel' },
    { name: 'smooth', type: 'number', default: 1.5, min: 0.3, max: 20, doc: 'blur sigma before quantising' },
    { name: 'edge', type: 'number', default: 120, min: 1, doc: 'Sobel magnitude above which a pixel becomes an outline' },
  ],
  async apply(img, p) {
    const smooth = await viaSharp(img, (s) => s.blur(num(p, 'smooth')));
    const mag = sobel(img);
    const L = num(p, 'levels');
    const th = num(p, 'edge');
    const out = new Uint8Array(smooth.data);
    const ch = img.channels;
    for (let q = 0; q < img.width * img.height; q++) {
      const edge = (mag[q] as number) > th;
      for (let c = 0; c < 3; c++) out[q * ch + c] = edge ? 20 : posterize(smooth.data[q * ch + c] as number, L);
    }
    return { ...img, data: out };
  },
});

registerImageStyle({
  name: 'sketch',
  summary: 'pencil sketch: grey image colour-dodged with its blurred negative',
  params: [{ name: 'sigma', type: 'number', default: 6, min: 0.5, max: 100, doc: 'blur of the negative (stroke width)' }],
  apply(img, p) {
    const { width: w, height: h, channels: ch } = img;
    const gray = new Float32Array(w * h);
    const inv = new Float32Array(w * h);
    for (let q = 0; q < w * h; q++) {
      gray[q] = 0.299 * (img.data[q * ch] as number) + 0.587 * (img.data[q * ch + 1] as number) + 0.114 * (img.data[q * ch + 2] as number);
      inv[q] = 255 - (gray[q] as number);
    }
    const blur = gaussianBlur(inv, w, h, num(p, 'sigma'));
    const out = new Uint8Array(img.data);
    for (let q = 0; q < w * h; q++) {
      const v = px8(Math.min(255, ((gray[q] as number) * 255) / Math.max(1, 255 - (blur[q] as number))));
      out[q * ch] = v;
      out[q * ch + 1] = v;
      out[q * ch + 2] = v;
    }
    return { ...img, data: out };
  },
});

registerImageStyle({
  name: 'jpeg',
  summary: 'JPEG re-compression at a low quality (blocking and ringing)',
  params: [{ name: 'quality', type: 'int', default: 15, min: 1, max: 100, doc: 'JPEG quality' }],
  async apply(img, p) {
    const jpg = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 | 4 } })
      .removeAlpha()
      .jpeg({ quality: num(p, 'quality') })
      .toBuffer();
    const dec = await sharp(jpg).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const back: RawImage = { data: dec.data, width: dec.info.width, height: dec.info.height, channels: dec.info.channels };
    if (img.channels === 4) {
      const out = new Uint8Array(img.data);
      for (let q = 0; q < img.width * img.height; q++) for (let c = 0; c < 3; c++) out[q * 4 + c] = back.data[q * 3 + c] as number;
      return { ...img, data: out };
    }
    return back;
  },
});

registerImageStyle({
  name: 'noise',
  summary: 'additive Gaussian noise, drawn from the sample\'s seeded stream',
  params: [{ name: 'sigma', type: 'number', default: 12, min: 0, max: 255, doc: 'standard deviation in pixel units' }],
  apply(img, p, rng) {
    const s = num(p, 'sigma');
    return mapRgb(img, (r, g, b, out) => {
      out[0] = r + s * rng.normal();
      out[1] = g + s * rng.normal();
      out[2] = b + s * rng.normal();
    });
  },
});

registerImageStyle({
  name: 'resize-crop',
  summary: 'scale > 1: zoom in and crop back to the size (centre or seeded offset); scale < 1: down- and up-sample (detail loss)',
  params: [
    { name: 'scale', type: 'number', default: 1.3, min: 0.05, max: 8, doc: 'resize factor' },
    { name: 'crop', type: 'enum', default: 'center', choices: ['center', 'random'], doc: 'crop position for scale > 1' },
  ],
  async apply(img, p, rng) {
    const s = num(p, 'scale');
    const { width: w, height: h } = img;
    if (s === 1) return img;
    if (s < 1) {
      const small = await viaSharp(img, (x) => x.resize(Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s)), { fit: 'fill' }));
      return viaSharp(small, (x) => x.resize(w, h, { fit: 'fill' }));
    }
    const W = Math.round(w * s);
    const H = Math.round(h * s);
    const left = str(p, 'crop') === 'random' ? rng.int(W - w + 1) : Math.floor((W - w) / 2);
    const top = str(p, 'crop') === 'random' ? rng.int(H - h + 1) : Math.floor((H - h) / 2);
    return viaSharp(img, (x) => x.resize(W, H, { fit: 'fill' }).extract({ left, top, width: w, height: h }));
  },
});
