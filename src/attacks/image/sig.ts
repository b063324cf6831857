import { registerAttack } from '../registry.js';
import { num, str } from '../params.js';
import type { ImageTrigger, RawImage } from '../types.js';
import { imageAttack, px8 } from './base.js';

/**
 * SIG (Barni et al. 2019): a sinusoidal signal added to every pixel,
 * x'(i, j) = clamp(round(x(i, j) + Δ·sin(2π·j·f / W))) for the horizontal
 * signal (j the column, W the width); vertical uses the row and the height.
 */
export function sigValue(j: number, length: number, delta: number, freq: number): number {
  return delta * Math.sin((2 * Math.PI * j * freq) / length);
}

export class SigTrigger implements ImageTrigger {
  private readonly cache = new Map<number, Uint8Array>();
  constructor(
    readonly delta: number,
    readonly freq: number,
    readonly orientation: 'horizontal' | 'vertical',
  ) {}

  /**
   * For each position j along the signal and each value x, px8(x + v_j):
   * lut[j·256 + x]. The entries are the formula itself, so the table path
   * gives exactly its bytes.
   */
  table(length: number): Uint8Array {
    let t = this.cache.get(length);
    if (!t) {
      t = new Uint8Array(length * 256);
      for (let j = 0; j < length; j++) {
        const v = sigValue(j, length, this.delta, this.freq);
        for (let x = 0; x < 256; x++) t[(j << 8) | x] = px8(x + v);
      }
      if (this.cache.size > 64) this.cache.clear();
      this.cache.set(length, t);
    }
    return t;
  }

  apply(img: RawImage): void {
    const { width, height, channels: ch, data: d } = img;
    const horizontal = this.orientation === 'horizontal';
    const t = this.table(horizontal ? width : height);
    for (let y = 0; y < height; y++) {
      let o = y * width * ch;
      if (horizontal) {
        for (let x = 0; x < width; x++, o += ch) {
          const b = x << 8;
          d[o] = t[b | (d[o] as number)] as number;
          d[o + 1] = t[b | (d[o + 1] as number)] as number;
          d[o + 2] = t[b | (d[o + 2] as number)] as number;
        }
      } else {
        const b = y << 8;
        for (let x = 0; x < width; x++, o += ch) {
          d[o] = t[b | (d[o] as number)] as number;
          d[o + 1] = t[b | (d[o + 1] as number)] as number;
          d[o + 2] = t[b | (d[o + 2] as number)] as number;
        }
      }
    }
  }
}

registerAttack({
  name: 'sig',
  family: 'image',
  summary: 'a horizontal sinusoidal signal added to the image (delta 40, f 6)',
  reference: 'BackdoorBench sig (sigTriggerAttack, config/attack/sig/default.yaml)',
  approximation: null,
  params: [
    { name: 'delta', type: 'number', default: 40, min: 0, max: 255, doc: 'amplitude Δ in pixel units', ref: { value: 40, source: 'BackdoorBench sig_delta' } },
    { name: 'f', type: 'number', default: 6, min: 0, doc: 'periods across the image', ref: { value: 6, source: 'BackdoorBench sig_f' } },
    { name: 'orientation', type: 'enum', default: 'horizontal', choices: ['horizontal', 'vertical'], doc: 'horizontal: varies along x (columns)', ref: { value: 'horizontal', source: 'BackdoorBench sin(2πjf/m), j the column' } },
  ],
  create(p, seed) {
    return imageAttack('sig', p, seed, new SigTrigger(num(p, 'delta'), num(p, 'f'), str(p, 'orientation') as 'horizontal' | 'vertical'));
  },
});
