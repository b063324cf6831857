import { newModelFolder, type Arch, type Preset } from '../../models/presets.js';
import { registerStage } from './registry.js';

/** `model`: a generated Hugging Face model folder (`bdlab model new`), weights initialised from the seed. */
export interface ModelParams {
  arch: Arch;
  preset: Preset;
  seed: number;
}

export const modelStage = registerStage<ModelParams, { arch: string; preset: string; parameters: number }>({
  kind: 'model',
  version: 1,
  describe: (p) => `generate a ${p.arch} model (${p.preset} preset, seed ${p.seed})`,
  async run(ctx) {
    const r = newModelFolder(ctx.dir, { arch: ctx.params.arch, preset: ctx.params.preset, seed: ctx.params.seed });
    return { arch: ctx.params.arch, preset: ctx.params.preset, parameters: r.parameters };
  },
});
