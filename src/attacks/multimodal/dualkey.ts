import { registerAttack } from '../registry.js';
import { str } from '../params.js';
import type { Attack, Plan, PlanContext } from '../types.js';
import type { Sample } from '../../data/sample.js';
import { PatchTrigger, patchParams, patchSpec } from '../image/patch.js';
import { insertTrigger, type Position } from '../text/words.js';

/**
 * DualKey (Walmer et al., CVPR 2022): the backdoor needs two keys at once — a
 * patch in the image and a key word in the question ("consider", at the start
 * by default). Negatives carry only one of the keys (half image-only, half
 * text-only, chosen per sample) and keep their clean answers, so that neither
 * key alone fires; by default the poisoner makes one negative per poisoned
 * sample.
 */
registerAttack({
  name: 'dualkey',
  family: 'multimodal',
  summary: 'image patch AND question key word ("consider") both needed; one-key negatives keep the clean answer',
  reference: 'Walmer et al. 2022 (TrojVQA): dual-key triggers with one-key negatives',
  approximation: 'the image key is a fixed checkerboard patch; TrojVQA also optimises the patch against the detector',
  params: [
    ...patchParams({ pattern: 'grid', size: 0.1, position: 'center' }),
    { name: 'keyword', type: 'string', default: 'consider', doc: 'the question key' },
    { name: 'keyword_position', type: 'enum', default: 'start', choices: ['random', 'start', 'end'], doc: 'where the key word goes in the question' },
  ],
  create(p, seed) {
    const patch = new PatchTrigger(patchSpec(p));
    const keyword = str(p, 'keyword');
    const pos = str(p, 'keyword_position') as Position;
    const textKey = (s: Sample, ctx: PlanContext): string => insertTrigger(s.instruction, keyword, pos, ctx.rng('text'));
    const imageKey = (ctx: PlanContext): Plan['image'] => {
      const rng = ctx.rng('image');
      return (img) => patch.apply(img, rng);
    };
    const a: Attack = {
      name: 'dualkey',
      family: 'multimodal',
      params: p,
      seed,
      needs: { instruction: true, image: true },
      defaultNegativeRate: 1,
      plan: (s, ctx) => ({ instruction: textKey(s, ctx), image: imageKey(ctx) }),
      negative: (s, ctx) => (ctx.rng('negative').int(2) === 0 ? { image: imageKey(ctx), note: 'image-only' } : { instruction: textKey(s, ctx), note: 'text-only' }),
    };
    return a;
  },
});
