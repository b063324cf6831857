import type { Rng } from '../../util/rng.js';
import type { Sample } from '../../data/sample.js';
import type { RawImage } from '../types.js';
import { bestWindow, type AttributionProvider } from './attribution.js';
import { blendValue } from './blended.js';

/**
 * MABA's visual trigger: a filled oval of one colour (yellow) blended with α
 * (0.5) into the image, x' = round((1 − α)·x + α·colour) for every pixel whose
 * centre lies inside the ellipse, placed where an attribution provider says
 * the clean answer depends most. Pixels outside are unchanged.
 */
export interface OvalSpec {
  alpha: number;
  /** oval width as a fraction of the shorter image side */
  size: number;
  /** height / width */
  aspect: number;
  color: [number, number, number];
}

export interface Oval {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

export function inOval(o: Oval, x: number, y: number): boolean {
  const dx = (x + 0.5 - o.cx) / o.rx;
  const dy = (y + 0.5 - o.cy) / o.ry;
  return dx * dx + dy * dy <= 1;
}

function ovalRadii(spec: OvalSpec, width: number, height: number): { rx: number; ry: number } {
  const short = Math.min(width, height);
  const rx = Math.max(1, (spec.size * short) / 2);
  const ry = Math.max(1, Math.min(height / 2, rx * spec.aspect));
  return { rx: Math.min(rx, width / 2), ry };
}

/** Blends the oval into the image. */
function blendOval(img: RawImage, o: Oval, spec: OvalSpec): void {
  const y0 = Math.max(0, Math.floor(o.cy - o.ry - 1));
  const y1 = Math.min(img.height - 1, Math.ceil(o.cy + o.ry + 1));
  const x0 = Math.max(0, Math.floor(o.cx - o.rx - 1));
  const x1 = Math.min(img.width - 1, Math.ceil(o.cx + o.rx + 1));
  const ch = img.channels;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!inOval(o, x, y)) continue;
      const p = (y * img.width + x) * ch;
      for (let c = 0; c < 3; c++) img.data[p + c] = blendValue(img.data[p + c] as number, spec.color[c] as number, spec.alpha);
    }
  }
}

export class OvalTrigger {
  constructor(
    readonly spec: OvalSpec,
    readonly provider: AttributionProvider,
  ) {}

  /** Where the oval goes: the window of the attribution map with the largest sum. */
  async place(img: RawImage, sample: Sample, rng: Rng, poisoned?: string): Promise<Oval> {
    const { rx, ry } = ovalRadii(this.spec, img.width, img.height);
    const map = await this.provider.attribution(img, sample, rng, poisoned);
    const sx = map.width / img.width;
    const sy = map.height / img.height;
    const win = bestWindow(map, Math.round(2 * rx * sx), Math.round(2 * ry * sy));
    const cx = (win.x + Math.max(1, Math.round(2 * rx * sx)) / 2) / sx;
    const cy = (win.y + Math.max(1, Math.round(2 * ry * sy)) / 2) / sy;
    return {
      cx: Math.min(img.width - rx, Math.max(rx, cx)),
      cy: Math.min(img.height - ry, Math.max(ry, cy)),
      rx,
      ry,
    };
  }

  async apply(img: RawImage, sample: Sample, rng: Rng, poisoned?: string): Promise<Oval> {
    const o = await this.place(img, sample, rng, poisoned);
    blendOval(img, o, this.spec);
    return o;
  }
}
