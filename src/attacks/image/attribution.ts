import { UserError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import type { Sample } from '../../data/sample.js';
import type { RawImage } from '../types.js';
import { gaussianBlur } from '../../data/pixels.js';

/**
 * Attribution providers say which image regions an answer depends on. MABA
 * places its trigger where the *clean* answer depends most: with a model
 * (`model`), the importance of each pixel for the clean answer minus that for
 * the poisoned answer (integrated gradients or gradient × input through a
 * LLaVA folder; src/attacks/surrogate/attribution.ts). Model-free stand-ins:
 * `saliency` — centre–surround contrast of luminance and colour opponents on a
 * ≤48-cell grid (difference of Gaussians, σ 0.75 and 4.5 cells) — `center`
 * and `random`.
 */
export interface AttributionMap {
  width: number;
  height: number;
  /** row-major, higher = more important */
  data: Float32Array;
}

export interface AttributionProvider {
  readonly name: string;
  /** `poisoned`: the answer the sample gets when poisoned (model attribution subtracts what it depends on). */
  attribution(img: RawImage, sample: Sample, rng: Rng, poisoned?: string): AttributionMap | Promise<AttributionMap>;
}

export interface ModelProviderOptions {
  model: string;
  adapter?: string;
  template?: string;
  method: 'ig' | 'gradxinput';
  steps: number;
}

/**
 * Attribution through a LLaVA model: pixel importance of the clean answer
 * minus that of the poisoned answer at the model's input, laid over the image
 * as the processor resized it (the centre crop it sees; the parts it never
 * sees count 0). Loads the model on first use.
 */
export class ModelProvider implements AttributionProvider {
  readonly name = 'model';
  /** Images placed without a poisoned answer to subtract (outside the poisoner). */
  withoutTarget = 0;
  constructor(readonly o: ModelProviderOptions) {}

  async attribution(img: RawImage, sample: Sample, _rng: Rng, poisoned?: string): Promise<AttributionMap> {
    const { attributorFor, modelView } = await import('../surrogate/attribution.js');
    const { attributor, surrogate } = await attributorFor({ model: this.o.model, adapter: this.o.adapter, template: this.o.template }, { method: this.o.method, steps: this.o.steps });
    const view = await modelView(surrogate, img);
    try {
      if (poisoned === undefined) this.withoutTarget++;
      const d = attributor.imageImportance(view.pixelValues, sample, poisoned ?? null);
      const { width, height } = view.resized;
      const out = new Float32Array(width * height);
      const c = view.crop;
      for (let y = 0; y < c.height; y++) {
        for (let x = 0; x < c.width; x++) {
          const yy = y + c.top;
          const xx = x + c.left;
          if (yy >= 0 && yy < height && xx >= 0 && xx < width) out[yy * width + xx] = d[y * c.width + x] as number;
        }
      }
      return { width, height, data: out };
    } finally {
      view.pixelValues.dispose();
    }
  }
}

/** Box-averaged planes (luminance, red–green, blue–yellow) on a grid whose longer side is at most `maxSide`. */
function opponentPlanes(img: RawImage, maxSide = 64): { w: number; h: number; planes: Float32Array[] } {
  const scale = Math.max(1, Math.max(img.width, img.height) / maxSide);
  const w = Math.max(1, Math.round(img.width / scale));
  const h = Math.max(1, Math.round(img.height / scale));
  const lum = new Float32Array(w * h);
  const rg = new Float32Array(w * h);
  const by = new Float32Array(w * h);
  const planes = [lum, rg, by];
  const count = new Float32Array(w * h);
  const ch = img.channels;
  const colCell = new Int32Array(img.width);
  for (let x = 0; x < img.width; x++) colCell[x] = Math.min(w - 1, Math.floor((x * w) / img.width));
  for (let y = 0; y < img.height; y++) {
    const gy = Math.min(h - 1, Math.floor((y * h) / img.height));
    for (let x = 0; x < img.width; x++) {
      const gx = colCell[x] as number;
      const o = (y * img.width + x) * ch;
      const r = img.data[o] as number;
      const g = img.data[o + 1] as number;
      const b = img.data[o + 2] as number;
      const k = gy * w + gx;
      lum[k] = (lum[k] as number) + 0.299 * r + 0.587 * g + 0.114 * b;
      rg[k] = (rg[k] as number) + r - g;
      by[k] = (by[k] as number) + b - (r + g) / 2;
      count[k] = (count[k] as number) + 1;
    }
  }
  for (const p of planes) for (let k = 0; k < p.length; k++) p[k] = (p[k] as number) / Math.max(1, count[k] as number);
  return { w, h, planes };
}

/** Saliency grid (longer side, cells) and the centre / surround blur in cells. */
const GRID = 48;
const CENTER_SIGMA = 0.75;
const SURROUND_SIGMA = 4.5;

export class SaliencyProvider implements AttributionProvider {
  readonly name = 'saliency';
  attribution(img: RawImage): AttributionMap {
    const { w, h, planes } = opponentPlanes(img, GRID);
    const out = new Float32Array(w * h);
    const weights = [1, 0.5, 0.5];
    planes.forEach((p, i) => {
      const c = gaussianBlur(p, w, h, CENTER_SIGMA);
      const s = gaussianBlur(p, w, h, SURROUND_SIGMA);
      for (let k = 0; k < out.length; k++) out[k] = (out[k] as number) + (weights[i] as number) * Math.abs((c[k] as number) - (s[k] as number));
    });
    return { width: w, height: h, data: out };
  }
}

/** Prefers the image centre (a fixed placement). */
class CenterProvider implements AttributionProvider {
  readonly name = 'center';
  attribution(img: RawImage): AttributionMap {
    const w = Math.min(64, img.width);
    const h = Math.min(64, img.height);
    const out = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = -(((x + 0.5) / w - 0.5) ** 2) - ((y + 0.5) / h - 0.5) ** 2;
    return { width: w, height: h, data: out };
  }
}

/** A random placement per sample (a control without attribution). */
class RandomProvider implements AttributionProvider {
  readonly name = 'random';
  attribution(img: RawImage, _s: Sample, rng: Rng): AttributionMap {
    const w = Math.min(64, img.width);
    const h = Math.min(64, img.height);
    const out = new Float32Array(w * h);
    for (let k = 0; k < out.length; k++) out[k] = rng.float();
    return { width: w, height: h, data: out };
  }
}

const providers = new Map<string, () => AttributionProvider>([
  ['saliency', () => new SaliencyProvider()],
  ['center', () => new CenterProvider()],
  ['random', () => new RandomProvider()],
]);

export function registerAttributionProvider(name: string, make: () => AttributionProvider): void {
  if (providers.has(name)) throw new Error(`attribution provider ${name} registered twice`);
  providers.set(name, make);
}

function attributionProviderNames(): string[] {
  return [...providers.keys()];
}

export function createAttributionProvider(name: string): AttributionProvider {
  const make = providers.get(name);
  if (!make) throw new UserError(`unknown attribution provider "${name}"; known: ${attributionProviderNames().join(', ')}`);
  return make();
}

/**
 * The window of a map (bw × bh cells) with the largest attribution sum, found
 * with an integral image; ties go to the first in raster order. Returns the
 * window's top-left cell.
 */
export function bestWindow(map: AttributionMap, bw: number, bh: number): { x: number; y: number } {
  const { width: w, height: h, data } = map;
  const W = w + 1;
  const ii = new Float64Array(W * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += data[y * w + x] as number;
      ii[(y + 1) * W + x + 1] = (ii[y * W + x + 1] as number) + row;
    }
  }
  const cw = Math.min(w, Math.max(1, bw));
  const chh = Math.min(h, Math.max(1, bh));
  let best = -Infinity;
  let bx = 0;
  let by = 0;
  for (let y = 0; y + chh <= h; y++) {
    for (let x = 0; x + cw <= w; x++) {
      const s = (ii[(y + chh) * W + x + cw] as number) - (ii[y * W + x + cw] as number) - (ii[(y + chh) * W + x] as number) + (ii[y * W + x] as number);
      if (s > best) {
        best = s;
        bx = x;
        by = y;
      }
    }
  }
  return { x: bx, y: by };
}
