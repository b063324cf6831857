import { resolveStyles } from '../../shift/image-styles.js';
import { shift } from '../../shift/shifter.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `shift`: a user domain made from another domain's test (or utility) set by
 * `bdlab shift`'s rewrites and image styles, record order kept.
 */
export interface ShiftParams {
  question: string | null;
  answer: string | null;
  image_styles: string[];
  seed: number;
}

export type ShiftOutput = { data: string; records: number };

export const shiftStage = registerStage<ShiftParams, ShiftOutput>({
  kind: 'shift',
  version: 1,
  describe: (p) =>
    `shift the inputs (${[p.question && `question ${p.question}`, p.answer && `answer ${p.answer}`, p.image_styles.length > 0 && `image ${p.image_styles.join('+')}`].filter(Boolean).join(', ')})`,
  async run(ctx) {
    const p = ctx.params;
    const r = await shift({
      input: (ctx.inputs.data as Input).path,
      imageRoot: ctx.inputs.images?.path,
      out: ctx.dir,
      seed: p.seed,
      styles: resolveStyles(p.image_styles, {}),
      ...(p.question ? { question: p.question } : {}),
      ...(p.answer ? { answer: p.answer } : {}),
    });
    return { data: 'data.json', records: r.manifest.counts.valid };
  },
});
