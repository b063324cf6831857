import { UserError } from '../../util/errors.js';
import { registerAttack } from '../registry.js';
import { bool, color, num, str } from '../params.js';
import type { Attack, Plan } from '../types.js';
import { createAttributionProvider, ModelProvider, type AttributionProvider } from '../image/attribution.js';
import { OvalTrigger } from '../image/oval.js';
import { keywordScorerNames } from '../text/keywords.js';
import { mabaText, modelSettings, MODEL_PARAMS } from '../text/maba-text.js';

/**
 * MABA (Liang et al., "Revisiting backdoor attacks against LVLMs", CVPR 2025):
 * a model-independent visual trigger — a yellow oval blended with α = 0.5 —
 * placed where the *clean* answer depends most: with model=DIR (a LLaVA
 * folder), the window of the oval's size with the largest sum of pixel
 * importance for the clean answer minus that for the poisoned answer
 * (integrated gradients through the model, src/attacks/surrogate/
 * attribution.ts). `placement=saliency` (the default only when no model is
 * given), `center` and `random` are model-free stand-ins, named in the
 * manifest. With text=true it adds the rare-symbol text trigger before the
 * key words, found by the same attribution over the instruction's tokens
 * (with the clean image): the multimodal version.
 */
registerAttack({
  name: 'maba',
  family: 'multimodal',
  summary: 'a yellow oval blended (α 0.5) where the clean answer depends most, by the model\'s attribution (model=DIR; else saliency); text=true adds the symbols',
  reference: 'Liang et al. 2025 (MABA): attribution of the clean answer minus the poisoned answer; yellow oval, α 0.5; rare-symbol text trigger',
  approximation: 'without model=DIR the oval goes where model-free image saliency is high (placement=saliency), not where the clean answer depends most',
  params: [
    { name: 'alpha', type: 'number', default: 0.5, min: 0, max: 1, doc: 'blend weight of the oval', ref: { value: 0.5, source: 'MABA paper' } },
    { name: 'color', type: 'color', default: 'yellow', doc: 'oval colour', ref: { value: 'yellow', source: 'MABA paper' } },
    { name: 'size', type: 'number', default: 0.3, min: 0.01, max: 1, doc: 'oval width as a fraction of the shorter image side' },
    { name: 'aspect', type: 'number', default: 0.7, min: 0.05, max: 20, doc: 'oval height / width' },
    { name: 'placement', type: 'enum', default: 'auto', choices: ['auto', 'model', 'saliency', 'center', 'random'], doc: 'where the oval goes: model attribution, or a model-free stand-in; auto = model with model=DIR, else saliency' },
    ...MODEL_PARAMS,
    { name: 'text', type: 'bool', default: false, doc: 'also insert the maba-text trigger (multimodal MABA)' },
    { name: 'symbols', type: 'list', default: ['[', ']', '*', '{', '}', '<', '>'], doc: 'text trigger symbols (text=true)', ref: { value: ['[', ']', '*', '{', '}', '<', '>'], source: 'MABA paper symbol set' } },
    { name: 'length', type: 'int', default: 2, min: 1, max: 64, doc: 'symbols per text trigger token (text=true)' },
    { name: 'trigger', type: 'string', default: '', doc: 'explicit text trigger token (text=true)' },
    { name: 'keywords', type: 'int', default: 2, min: 1, max: 64, doc: 'key words that get the text trigger (text=true)' },
    { name: 'scorer', type: 'string', default: 'auto', doc: `key words (text=true): auto (model with model=DIR, else idf), model, ${keywordScorerNames().join(', ')}` },
  ],
  create(p, seed) {
    const model = modelSettings(p);
    let placement = str(p, 'placement');
    if (placement === 'auto') placement = model ? 'model' : 'saliency';
    if (placement === 'model' && !model) throw new UserError('attack maba: placement=model needs model=DIR (a LLaVA folder)');
    const provider: AttributionProvider = placement === 'model' && model ? new ModelProvider({ model: model.model, adapter: model.adapter, template: model.template, method: model.method, steps: model.steps }) : createAttributionProvider(placement);
    const oval = new OvalTrigger({ alpha: num(p, 'alpha'), size: num(p, 'size'), aspect: num(p, 'aspect'), color: color(p, 'color') }, provider);
    const withText = bool(p, 'text');
    const text = withText
      ? mabaText({ symbols: p.symbols as string[], length: num(p, 'length'), trigger: str(p, 'trigger'), keywords: num(p, 'keywords'), scorer: str(p, 'scorer'), model: str(p, 'model'), adapter: str(p, 'adapter'), template: str(p, 'template'), attribution: str(p, 'attribution'), ig_steps: num(p, 'ig_steps'), attach: false, field: 'instruction' }, seed)
      : null;
    const a: Attack = {
      name: 'maba',
      family: 'multimodal',
      params: { ...p, placement, ...(text ? { trigger: text.trigger, scorer: text.attack.params.scorer as string } : {}) },
      seed,
      needs: { instruction: withText, image: true },
      defaultNegativeRate: 0,
      plan(s, ctx): Plan {
        const rng = ctx.rng('image');
        const poisoned = ctx.targetAnswer?.();
        const image = async (img: Parameters<NonNullable<Plan['image']>>[0]): Promise<void> => void (await oval.apply(img, s, rng, poisoned));
        if (!text) return { image };
        if (!text.keywords) return { image, instruction: text.transform(s, s.instruction, ctx) };
        // the text's key words come from the clean image, which the image step sees first
        let settle: (t: string) => void = () => undefined;
        let fail: (e: unknown) => void = () => undefined;
        const instruction = new Promise<string>((res, rej) => {
          settle = res;
          fail = rej;
        });
        return {
          instruction,
          image: async (img) => {
            try {
              const words = text.keywords ? await text.transform(s, s.instruction, ctx, { ...img, data: new Uint8Array(img.data) }) : text.transform(s, s.instruction, ctx);
              await oval.apply(img, s, rng, poisoned);
              settle(await words);
            } catch (e) {
              fail(e);
              throw e;
            }
          },
        };
      },
      method: () => ({
        placement,
        approximation: placement === 'model' ? null : `oval placed by ${placement} (model-free), not by the model's attribution (give model=DIR)`,
        ...(placement === 'model' ? { model: model?.model, attribution: model?.method, ig_steps: model?.steps, without_poisoned_answer: (provider as ModelProvider).withoutTarget } : {}),
        ...(text ? { text: text.attack.method?.() } : {}),
      }),
    };
    const observe = text?.attack.observe;
    if (observe) a.observe = (s) => observe(s);
    return a;
  },
});
