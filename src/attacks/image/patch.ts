import { readFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import { color, num, parseColor, str } from '../params.js';
import type { ImageTrigger, ParamSpec, Params, RawImage } from '../types.js';
import { decodeImage, resizeRaw } from '../../data/image-io.js';
import { pasteRgb, type RgbPatch } from '../../data/pixels.js';

/**
 * A square patch trigger (BadNets, DualKey's image key): a checkerboard grid, a
 * solid colour or an image file, of a fixed or relative size, pasted at a fixed
 * corner, the centre or a random position. The patch's pixels replace the
 * image's RGB values exactly (alpha is kept).
 */
export type PatchPattern = 'grid' | 'solid' | 'image';
export type PatchPosition = 'bottom-right' | 'bottom-left' | 'top-right' | 'top-left' | 'center' | 'random';
const PATCH_POSITIONS: readonly PatchPosition[] = ['bottom-right', 'bottom-left', 'top-right', 'top-left', 'center', 'random'];

/** Patch parameters with their defaults; `source` names the reference the defaults come from (cited in the help). */
export function patchParams(defaults: { pattern: PatchPattern; size: number; position: PatchPosition }, source?: string): ParamSpec[] {
  const ref = <T extends ParamSpec['default']>(value: T): Pick<ParamSpec, 'ref'> => (source ? { ref: { value, source } } : {});
  return [
    { name: 'pattern', type: 'enum', default: defaults.pattern, choices: ['grid', 'solid', 'image'], doc: 'checkerboard grid, solid colour, or an image file (image=PATH)', ...ref(defaults.pattern) },
    { name: 'size', type: 'number', default: defaults.size, min: 0, doc: 'patch side: pixels if ≥ 1, else a fraction of the shorter image side', ...ref(defaults.size) },
    { name: 'grid', type: 'int', default: 3, min: 1, max: 1024, doc: 'cells per side of the checkerboard (3: the classic 3x3 BadNets grid)', ...ref(3) },
    { name: 'color', type: 'color', default: 'white', doc: 'solid colour, and the first checkerboard colour', ...ref('white') },
    { name: 'color2', type: 'color', default: 'black', doc: 'the second checkerboard colour', ...ref('black') },
    { name: 'image', type: 'string', default: '', doc: 'patch image file (PNG/JPEG) for pattern=image, resized to the patch side' },
    { name: 'position', type: 'enum', default: defaults.position, choices: PATCH_POSITIONS, doc: 'where the patch goes', ...ref(defaults.position) },
    { name: 'margin', type: 'int', default: 0, min: 0, doc: 'distance in pixels from the image border for corner positions', ...ref(0) },
  ];
}

export interface PatchSpec {
  pattern: PatchPattern;
  size: number;
  grid: number;
  color: [number, number, number];
  color2: [number, number, number];
  image: string;
  position: PatchPosition;
  margin: number;
}

export function patchSpec(p: Params): PatchSpec {
  const spec: PatchSpec = {
    pattern: str(p, 'pattern') as PatchPattern,
    size: num(p, 'size'),
    grid: num(p, 'grid'),
    color: color(p, 'color'),
    color2: color(p, 'color2'),
    image: str(p, 'image'),
    position: str(p, 'position') as PatchPosition,
    margin: num(p, 'margin'),
  };
  if (spec.size <= 0) throw new UserError('patch size must be > 0');
  if (spec.pattern === 'image' && spec.image === '') throw new UserError('pattern=image needs image=PATH (a PNG or JPEG file)');
  return spec;
}

/** Patch side in pixels for an image. */
export function patchSide(spec: PatchSpec, width: number, height: number): number {
  const short = Math.min(width, height);
  const side = spec.size >= 1 ? Math.round(spec.size) : Math.max(1, Math.round(spec.size * short));
  return Math.min(side, short);
}

/** Top-left corner of the patch. */
export function patchPlace(spec: PatchSpec, width: number, height: number, side: number, rng: Rng): { x: number; y: number } {
  const m = Math.min(spec.margin, width - side, height - side);
  switch (spec.position) {
    case 'bottom-right':
      return { x: width - side - m, y: height - side - m };
    case 'bottom-left':
      return { x: m, y: height - side - m };
    case 'top-right':
      return { x: width - side - m, y: m };
    case 'top-left':
      return { x: m, y: m };
    case 'center':
      return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2) };
    case 'random':
      return { x: rng.int(width - side + 1), y: rng.int(height - side + 1) };
  }
}

/** The checkerboard colour of patch pixel (px, py) for a side and cell count. */
export function gridColor(spec: PatchSpec, side: number, px: number, py: number): [number, number, number] {
  const cx = Math.min(spec.grid - 1, Math.floor((px * spec.grid) / side));
  const cy = Math.min(spec.grid - 1, Math.floor((py * spec.grid) / side));
  return (cx + cy) % 2 === 0 ? spec.color : spec.color2;
}

export class PatchTrigger implements ImageTrigger {
  private readonly cache = new Map<number, Uint8Array>();
  private source: RawImage | null = null;
  private sourceBytes: Buffer | null = null;

  constructor(readonly spec: PatchSpec) {
    if (spec.pattern !== 'image') return;
    let buf: Buffer;
    try {
      buf = readFileSync(spec.image);
    } catch (e) {
      throw new UserError(`patch image ${spec.image}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.sourceBytes = buf;
  }

  /** The patch's RGB pixels (side × side × 3). */
  async pixels(side: number): Promise<Uint8Array> {
    const hit = this.cache.get(side);
    if (hit) return hit;
    const out = new Uint8Array(side * side * 3);
    if (this.spec.pattern === 'image') {
      if (!this.source) {
        try {
          this.source = await decodeImage(this.sourceBytes as Buffer);
        } catch (e) {
          throw new UserError(`patch image ${this.spec.image}: cannot decode: ${(e as Error).message}`);
        }
      }
      const r = await resizeRaw(this.source, side, side);
      for (let i = 0; i < side * side; i++) {
        out[i * 3] = r.data[i * r.channels] as number;
        out[i * 3 + 1] = r.data[i * r.channels + 1] as number;
        out[i * 3 + 2] = r.data[i * r.channels + 2] as number;
      }
    } else {
      for (let py = 0; py < side; py++) {
        for (let px = 0; px < side; px++) {
          const c = this.spec.pattern === 'solid' ? this.spec.color : gridColor(this.spec, side, px, py);
          const o = (py * side + px) * 3;
          out[o] = c[0];
          out[o + 1] = c[1];
          out[o + 2] = c[2];
        }
      }
    }
    this.cache.set(side, out);
    return out;
  }

  /** Where the patch goes in an image of this size (consumes the sample's random stream for `random`). */
  place(img: RawImage, rng: Rng): { x: number; y: number; side: number } {
    const side = patchSide(this.spec, img.width, img.height);
    return { ...patchPlace(this.spec, img.width, img.height, side, rng), side };
  }

  /** The patch for an image of this size: where it goes and its pixels (consumes the random stream as apply does). */
  async patch(width: number, height: number, rng: Rng): Promise<RgbPatch> {
    const side = patchSide(this.spec, width, height);
    const { x, y } = patchPlace(this.spec, width, height, side, rng);
    return { x, y, width: side, height: side, rgb: await this.pixels(side) };
  }

  async apply(img: RawImage, rng: Rng): Promise<void> {
    pasteRgb(img, await this.patch(img.width, img.height, rng));
  }
}

export { parseColor };
