import { UserError } from '../../util/errors.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonObjectFile } from '../../util/json-limits.js';
import { registerAttack } from '../registry.js';
import { str } from '../params.js';
import type { ImageTrigger, RawImage } from '../types.js';
import { imageAttack, px8 } from './base.js';
import type { LoadedGenerator } from './inputaware-gen.js';

/**
 * InputAware (Nguyen & Tran, NeurIPS 2020; BackdoorBench inputaware): a
 * generator network makes a different trigger pattern p and mask m for every
 * image, x' = round((1 − m)·x + m·p). The generators are trained against a
 * surrogate by `bdlab attack inputaware` (src/attacks/image/inputaware-
 * train.ts, BackdoorBench's objective); poisoning runs them on each image
 * (generator=DIR).
 */
export interface GeneratedTrigger {
  /** RGB pattern at the image's size (width × height × 3), in pixel units */
  pattern: Uint8Array | Float32Array;
  /** per-pixel mask in [0, 1] (width × height) */
  mask: Float32Array;
}

export interface InputAwareGenerator {
  readonly name: string;
  generate(img: RawImage): Promise<GeneratedTrigger>;
}

/** Applies a generated pattern through its mask, in place. */
export function applyGenerated(img: RawImage, t: GeneratedTrigger): void {
  const n = img.width * img.height;
  if (t.pattern.length !== n * 3 || t.mask.length !== n) throw new Error(`input-aware trigger is ${t.mask.length} px, image is ${n} px`);
  const ch = img.channels;
  for (let p = 0; p < n; p++) {
    const m = Math.min(1, Math.max(0, t.mask[p] as number));
    for (let c = 0; c < 3; c++) img.data[p * ch + c] = px8((1 - m) * (img.data[p * ch + c] as number) + m * (t.pattern[p * 3 + c] as number));
  }
}

/** Loads the generator folder on first use (the engine stays unloaded until an image needs it). */
class GeneratorTrigger implements ImageTrigger {
  private gen: Promise<LoadedGenerator> | null = null;
  constructor(
    readonly dir: string,
    readonly provenance: unknown,
  ) {}

  loaded(): Promise<LoadedGenerator> {
    this.gen ??= import('./inputaware-gen.js').then((m) => m.LoadedGenerator.load(this.dir));
    return this.gen;
  }

  async apply(img: RawImage): Promise<void> {
    const g = await this.loaded();
    applyGenerated(img, await g.generate(img));
  }
}

registerAttack({
  name: 'inputaware',
  family: 'image',
  summary: 'a per-image trigger from a generator network trained against a surrogate (generator=DIR from bdlab attack inputaware)',
  reference: 'Nguyen & Tran 2020; BackdoorBench attack/inputaware.py (generators, mask density 0.032, λ_div 1, λ_norm 100)',
  approximation: null,
  params: [{ name: 'generator', type: 'string', default: '', doc: 'the generator folder written by bdlab attack inputaware' }],
  create(p, seed) {
    const dir = str(p, 'generator');
    if (dir === '') throw new UserError('attack inputaware: give generator=DIR (made by bdlab attack inputaware)');
    const cfgPath = join(dir, 'config.json');
    if (!existsSync(cfgPath)) throw new UserError(`attack inputaware: generator ${dir}: no config.json (make one with bdlab attack inputaware)`);
    const cfg = readJsonObjectFile(cfgPath, 1024 * 1024, 'generator config');
    if (cfg.format !== 'bdlab/inputaware-generator') throw new UserError(`${cfgPath}: not an InputAware generator (format must be "bdlab/inputaware-generator")`);
    const t = new GeneratorTrigger(dir, cfg.provenance ?? null);
    const a = imageAttack('inputaware', p, seed, t);
    a.method = () => ({ generator: dir, provenance: t.provenance });
    return a;
  },
});
