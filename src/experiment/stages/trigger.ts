import { createAttack } from '../../attacks/index.js';
import { parseTarget } from '../../attacks/targets.js';
import { poison } from '../../attacks/poisoner.js';
import { readSamples } from './records.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `trigger`: the triggered copy of a test set — every record carries the
 * attack's trigger, answers unchanged, record order kept — so triggered and
 * clean outputs pair by position (clean-conditioned ASR). Domain shifts are
 * applied before this stage, never after (a shift must not touch the trigger).
 */
export interface TriggerParams {
  attack: string;
  params: Record<string, string>;
  seed: number;
}

export type TriggerOutput = {
  data: string;
  records: number;
  /** Images of the triggered records, relative to the artifact (for contact sheets); empty for text. */
  images: string[];
};

export const triggerStage = registerStage<TriggerParams, TriggerOutput>({
  kind: 'trigger',
  version: 1,
  describe: (p) => `insert the ${p.attack} trigger into every test input`,
  async run(ctx) {
    const p = ctx.params;
    const r = await poison({
      input: (ctx.inputs.data as Input).path,
      imageRoot: ctx.inputs.images?.path,
      attack: createAttack(p.attack, p.params, p.seed),
      target: parseTarget('keep'),
      seed: p.seed,
      out: ctx.dir,
      selection: { rate: 1 },
      negatives: { count: 0 },
    });
    const samples = readSamples(`${ctx.dir}/data.json`);
    const imageRoot = r.manifest.image_root;
    const images = imageRoot ? samples.flatMap((s) => (s.image !== undefined ? [`${imageRoot}/${s.image}`] : [])) : [];
    return { data: 'data.json', records: r.manifest.counts.valid, images };
  },
});
