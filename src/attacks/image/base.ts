import type { Sample } from '../../data/sample.js';
import type { Attack, ImageTrigger, Params, Plan, PlanContext } from '../types.js';

/** Wraps an image trigger as an Attack of the image family (instruction unchanged). */
export function imageAttack(name: string, params: Params, seed: number, trigger: ImageTrigger, extra: Partial<Pick<Attack, 'negative' | 'defaultNegativeRate'>> = {}): Attack {
  const a: Attack = {
    name,
    family: 'image',
    params,
    seed,
    needs: { instruction: false, image: true },
    defaultNegativeRate: extra.defaultNegativeRate ?? 0,
    plan(_s: Sample, ctx: PlanContext): Plan {
      const rng = ctx.rng('image');
      const plan: Plan = { image: (img) => trigger.apply(img, rng) };
      if (trigger.patch) plan.imagePatch = (width, height) => trigger.patch!(width, height, rng);
      return plan;
    },
  };
  if (extra.negative) a.negative = extra.negative;
  return a;
}

export { px8 } from '../../data/pixels.js';
