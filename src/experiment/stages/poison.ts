import { createAttack } from '../../attacks/index.js';
import { parseTarget } from '../../attacks/targets.js';
import { poison } from '../../attacks/poisoner.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `poison`: the clean training set (input `data`, images under input
 * `images` when given) poisoned by a registry attack at a rate, through the
 * poisoner of `bdlab poison`; writes data.json and manifest.json.
 */
export interface PoisonParams {
  attack: string;
  /** The spec's parameters as `--param key=value` strings. */
  params: Record<string, string>;
  target: string;
  rate: number;
  seed: number;
}

export type PoisonOutput = {
  data: string;
  manifest: string;
  attack: string;
  target: string;
  records: number;
  poisoned: number;
  negatives: number;
};

export const poisonStage = registerStage<PoisonParams, PoisonOutput>({
  kind: 'poison',
  version: 1,
  describe: (p) => `poison ${(p.rate * 100).toFixed(2).replace(/\.?0+$/, '')} % of the training set with ${p.attack} → ${p.target}`,
  async run(ctx) {
    const p = ctx.params;
    const r = await poison({
      input: (ctx.inputs.data as Input).path,
      imageRoot: ctx.inputs.images?.path,
      attack: createAttack(p.attack, p.params, p.seed),
      target: parseTarget(p.target),
      seed: p.seed,
      out: ctx.dir,
      selection: { rate: p.rate },
    });
    const m = r.manifest;
    ctx.log(`${m.counts.poisoned} of ${m.counts.valid} records poisoned`);
    return { data: 'data.json', manifest: 'manifest.json', attack: m.attack, target: m.target, records: m.counts.valid, poisoned: m.counts.poisoned, negatives: m.counts.negatives };
  },
});
