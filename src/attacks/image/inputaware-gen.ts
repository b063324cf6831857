// A trained InputAware generator pair as a folder — config.json (shape, input
// size, normalisation, provenance) and generator.safetensors (G.* and M.*,
// running statistics included) — and its use on any image: the image is
// resized to the generator's input (squashed to a square, bilinear),
// normalised as the surrogate saw it, and the pattern and thresholded mask
// come back upsampled (bilinear) to the image's own size.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../engine/index.js';
import { ParamInit } from '../../nn/init.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { UserError } from '../../util/errors.js';
import { readJsonObjectFile } from '../../util/json-limits.js';
import { resizeRaw, toRgb, type RawImage } from '../../data/image-io.js';
import { InputAwareGenerator, threshold } from './inputaware-net.js';
import type { GeneratedTrigger } from './inputaware.js';

const GENERATOR_FORMAT = 'bdlab/inputaware-generator';
const WEIGHTS = 'generator.safetensors';

export interface GeneratorConfig {
  format: typeof GENERATOR_FORMAT;
  channels: number;
  steps: number;
  image_size: number;
  mean: number[];
  std: number[];
  provenance: Record<string, unknown>;
}

export function saveGenerator(dir: string, G: InputAwareGenerator, M: InputAwareGenerator, config: Omit<GeneratorConfig, 'format'>): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, T.Tensor>();
  for (const [n, t] of G.namedParameters()) tensors.set(`G.${n}`, t);
  for (const [n, t] of M.namedParameters()) tensors.set(`M.${n}`, t);
  T.saveSafetensors(join(dir, WEIGHTS), tensors, { format: GENERATOR_FORMAT });
  writeJsonAtomic(join(dir, 'config.json'), { format: GENERATOR_FORMAT, ...config });
}

export class LoadedGenerator {
  private constructor(
    readonly dir: string,
    readonly config: GeneratorConfig,
    readonly G: InputAwareGenerator,
    readonly M: InputAwareGenerator,
  ) {}

  /** Reads config.json and the weights; a one-line error names what is wrong. */
  static load(dir: string): LoadedGenerator {
    const cfgPath = join(dir, 'config.json');
    if (!existsSync(cfgPath)) throw new UserError(`inputaware generator ${dir}: no config.json (make one with bdlab attack inputaware)`);
    const j = readJsonObjectFile(cfgPath, 1024 * 1024, 'generator config');
    if (j.format !== GENERATOR_FORMAT) throw new UserError(`${cfgPath}: not an InputAware generator (format must be "${GENERATOR_FORMAT}")`);
    for (const k of ['channels', 'steps', 'image_size'] as const) {
      if (!Number.isInteger(j[k]) || (j[k] as number) < 1 || (j[k] as number) > 4096) throw new UserError(`${cfgPath}: field "${k}": expected a positive integer`);
    }
    for (const k of ['mean', 'std'] as const) {
      const v = j[k];
      if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)) || (k === 'std' && v.some((x) => (x as number) <= 0))) throw new UserError(`${cfgPath}: field "${k}": expected three numbers`);
    }
    const config = j as unknown as GeneratorConfig;
    const shape = { channels: config.channels, steps: config.steps };
    const G = new InputAwareGenerator({ ...shape, outChannels: 3 }, new ParamInit({ mode: 'empty' }));
    const M = new InputAwareGenerator({ ...shape, outChannels: 1 }, new ParamInit({ mode: 'empty' }));
    try {
      const wPath = join(dir, WEIGHTS);
      if (!existsSync(wPath)) throw new UserError(`${wPath}: not found`);
      const loaded = T.loadSafetensors(wPath);
      for (const [prefix, m] of [['G', G], ['M', M]] as const) {
        for (const [n, t] of m.namedParameters()) {
          const src = loaded.get(`${prefix}.${n}`);
          if (!src) throw new UserError(`${wPath}: tensor ${prefix}.${n} missing`);
          if (src.shape.join(',') !== t.shape.join(',')) throw new UserError(`${wPath}: tensor ${prefix}.${n} has shape [${src.shape}], the config needs [${t.shape}]`);
          m.setParameter(n, src.float());
        }
      }
      for (const t of loaded.values()) t.dispose();
      G.eval();
      M.eval();
      return new LoadedGenerator(dir, config, G, M);
    } catch (e) {
      G.dispose();
      M.dispose();
      throw e;
    }
  }

  /** The pattern (0..255) and the mask in [0, 1] for an image, at its own size. */
  async generate(img: RawImage): Promise<GeneratedTrigger> {
    const s = this.config.image_size;
    const small = await resizeRaw(toRgb(img), s, s, 'linear');
    const x = new Float32Array(3 * s * s);
    for (let c = 0; c < 3; c++) {
      const m = this.config.mean[c] as number;
      const sd = this.config.std[c] as number;
      for (let i = 0; i < s * s; i++) x[c * s * s + i] = ((small.data[i * small.channels + c] as number) / 255 - m) / sd;
    }
    return T.noGrad(() =>
      T.scope(() => {
        const xt = T.tensor(x, { shape: [1, 3, s, s] });
        const size: [number, number] = [img.height, img.width];
        const up = (t: T.Tensor): T.Tensor => T.interpolate(t, { size, mode: 'bilinear', alignCorners: false });
        const p = up(this.G.forward(xt)).squeeze(0).permute([1, 2, 0]).contiguous().mul(255);
        const m = up(threshold(this.M.forward(xt))).view([-1]).contiguous();
        return { pattern: p.toArray() as Float32Array, mask: m.toArray() as Float32Array };
      }),
    );
  }

  dispose(): void {
    this.G.dispose();
    this.M.dispose();
  }
}
