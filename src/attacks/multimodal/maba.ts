import { registerAttack, attackDef } from '../registry.js';
import { bool, color, num, str } from '../params.js';
import type { Attack, Plan } from '../types.js';
import { attributionProviderNames, createAttributionProvider } from '../image/attribution.js';
import { OvalTrigger } from '../image/oval.js';
import { keywordScorerNames } from '../text/keywords.js';

/**
 * MABA (Liang et al., "Revisiting backdoor attacks against LVLMs", CVPR 2025):
 * a model-independent visual trigger — a yellow oval blended with α = 0.5 into
 * the region the clean answer depends on most (attribution provider; default
 * model-free saliency) — and, with text=true, its rare-symbol text trigger
 * (the `maba-text` attack) before the instruction's key words: the multimodal
 * version.
 */
registerAttack({
  name: 'maba',
  family: 'multimodal',
  summary: 'a yellow oval blended (α 0.5) where the clean answer depends most; text=true adds the maba-text symbols',
  reference: 'x',
  approximation: 'x',
  params: [
    { name: 'alpha', type: 'number', default: 0.5, min: 0, max: 1, doc: 'blend weight of the oval' },
    { name: 'size', type: 'number', default: 0.3, min: 0.01, max: 1, doc: 'oval width as a fraction of the shorter image side' },
    { name: 'aspect', type: 'number', default: 0.7, min: 0.05, max: 20, doc: 'oval height / width' },
    { name: 'color', type: 'color', default: 'yellow', doc: 'oval colour' },
    { name: 'provider', type: 'string', default: 'saliency', doc: `attribution provider: ${attributionProviderNames().join(', ')}` },
    { name: 'text', type: 'bool', default: false, doc: 'also insert the maba-text trigger (multimodal MABA)' },
    { name: 'symbols', type: 'list', default: ['[', ']', '*', '{', '}', '<', '>'], doc: 'text trigger symbols (text=true)' },
    { name: 'length', type: 'int', default: 2, min: 1, max: 64, doc: 'symbols per text trigger token (text=true)' },
    { name: 'trigger', type: 'string', default: '', doc: 'explicit text trigger token (text=true)' },
    { name: 'keywords', type: 'int', default: 2, min: 1, max: 64, doc: 'key words that get the text trigger (text=true)' },
    { name: 'scorer', type: 'string', default: 'idf', doc: `key-word scorer (text=true): ${keywordScorerNames().join(', ')}` },
  ],
  create(p, seed) {
    const oval = new OvalTrigger({ alpha: num(p, 'alpha'), size: num(p, 'size'), aspect: num(p, 'aspect'), color: color(p, 'color') }, createAttributionProvider(str(p, 'provider')));
    const withText = bool(p, 'text');
    const text = withText
      ? attackDef('maba-text').create(
          { symbols: p.symbols as string[], length: num(p, 'length'), trigger: str(p, 'trigger'), keywords: num(p, 'keywords'), scorer: str(p, 'scorer'), attach: false, field: 'instruction' },
          seed,
        )
      : null;
    const a: Attack = {
      name: 'maba',
      family: 'multimodal',
      params: text ? { ...p, trigger: text.params.trigger as string } : p,
      seed,
      needs: { instruction: withText, image: true },
      defaultNegativeRate: 0,
      plan(s, ctx): Plan {
        const rng = ctx.rng('image');
        const plan: Plan = { image: async (img) => void (await oval.apply(img, s, rng)) };
        if (text) plan.instruction = text.plan(s, ctx).instruction as string;
        return plan;
      },
    };
    if (text?.observe) a.observe = (s) => text.observe?.(s);
    return a;
  },
});
