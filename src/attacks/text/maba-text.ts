import { UserError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import type { Sample } from '../../data/sample.js';
import { registerAttack } from '../registry.js';
import { bool, list, num, str } from '../params.js';
import type { Attack, ParamSpec, Params, PlanContext } from '../types.js';
import { textAttack } from './base.js';
import { FIELD_PARAM } from './words.js';
import { createKeywordScorer, keywordScorerNames, topKeywords, type KeywordScorer } from './keywords.js';

/** The MABA symbol trigger: `length` symbols from the set, drawn once with the attack's seed. */
export function symbolTrigger(symbols: readonly string[], length: number, seed: number): string {
  const rng = new Rng(seed, 'maba-text', 'trigger');
  let t = '';
  for (let i = 0; i < length; i++) t += rng.pick(symbols);
  return t;
}

/**
 * Inserts `trigger` before the words at `positions` (indices into text.split(' ')),
 * as a separate word or attached to the word.
 */
export function insertBefore(text: string, positions: readonly number[], trigger: string, attach: boolean): string {
  const words = text.split(' ');
  const at = new Set(positions);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (at.has(i)) {
      if (attach) out.push(trigger + w);
      else out.push(trigger, w);
    } else out.push(w);
  }
  return out.join(' ');
}

/** The model settings MABA's attribution takes (image and text parts). */
export const MODEL_PARAMS: ParamSpec[] = [
  { name: 'model', type: 'string', default: '', doc: 'model folder whose attribution places the trigger (LLaVA for the image part; any for the text part)' },
  { name: 'adapter', type: 'string', default: '', doc: 'PEFT adapter on the model' },
  { name: 'template', type: 'string', default: 'auto', doc: 'prompt template of the model (as training)' },
  { name: 'attribution', type: 'enum', default: 'ig', choices: ['ig', 'gradxinput'], doc: 'integrated gradients, or gradient × input (the MABA paper does not fix the method)' },
  { name: 'ig_steps', type: 'int', default: 20, min: 1, max: 1000, doc: 'integrated-gradients path points (Sundararajan et al.: 20 to 300)' },
];

export interface ModelSettings {
  model: string;
  adapter?: string;
  template: string;
  method: 'ig' | 'gradxinput';
  steps: number;
}

export function modelSettings(p: Params): ModelSettings | null {
  const model = str(p, 'model');
  if (model === '') return null;
  const adapter = str(p, 'adapter');
  return { model, ...(adapter ? { adapter } : {}), template: str(p, 'template'), method: str(p, 'attribution') as 'ig' | 'gradxinput', steps: num(p, 'ig_steps') };
}

/**
 * Key words by the model's attribution: each word's importance for the clean
 * answer minus that for the poisoned answer (pixel values: the clean image, for
 * MABA's multimodal form). Records whose tokens cannot be mapped to words, and
 * calls without a poisoned answer, are counted.
 */
export class ModelKeywords {
  fallbacks = 0;
  withoutTarget = 0;
  constructor(
    readonly m: ModelSettings,
    readonly fallback: KeywordScorer,
  ) {}

  async positions(s: Sample, text: string, k: number, poisoned: string | undefined, image?: import('../../data/image-io.js').RawImage): Promise<number[]> {
    const { attributorFor } = await import('../surrogate/attribution.js');
    const { attributor, surrogate } = await attributorFor({ model: this.m.model, adapter: this.m.adapter, template: this.m.template }, { method: this.m.method, steps: this.m.steps });
    if (poisoned === undefined) this.withoutTarget++;
    const pv = image && surrogate.llava ? await surrogate.pixelValues(image) : undefined;
    try {
      const scores = attributor.wordImportance({ instruction: text, input: s.input, output: s.output }, poisoned ?? null, pv);
      if (scores) return topKeywords(scores, k);
      this.fallbacks++;
      return topKeywords(this.fallback.score(text.split(' ')), k);
    } finally {
      pv?.dispose();
    }
  }
}

/** The maba-text attack object for parameters `p` (shared with maba text=true). */
export function mabaText(p: Params, seed: number): { attack: Attack; trigger: string; keywords: ModelKeywords | null; transform: (s: Sample, text: string, ctx: PlanContext, image?: import('../../data/image-io.js').RawImage) => Promise<string> | string } {
  const explicit = str(p, 'trigger');
  if (/\s/.test(explicit)) throw new UserError('attack maba-text: trigger may not contain spaces');
  const trigger = explicit !== '' ? explicit : symbolTrigger(list(p, 'symbols'), num(p, 'length'), seed);
  const model = modelSettings(p);
  let scorerName = str(p, 'scorer');
  if (scorerName === 'auto') scorerName = model ? 'model' : 'idf';
  if (scorerName === 'model' && !model) throw new UserError('attack maba-text: scorer=model needs model=DIR');
  const stat = createKeywordScorer(scorerName === 'model' ? 'idf' : scorerName);
  const keywords = scorerName === 'model' && model ? new ModelKeywords(model, stat) : null;
  const k = num(p, 'keywords');
  const attach = bool(p, 'attach');
  const field = p.field === 'input' ? 'input' : 'instruction';
  const place = (t: string, pos: number[]): string => insertBefore(t, pos.length > 0 ? pos : [0], trigger, attach);
  const transform = (s: Sample, t: string, ctx: PlanContext, image?: import('../../data/image-io.js').RawImage): Promise<string> | string => {
    if (t.length === 0) return trigger;
    if (keywords) return keywords.positions(s, t, k, ctx.targetAnswer?.(), image).then((pos) => place(t, pos));
    return place(t, topKeywords(stat.score(t.split(' ')), k));
  };
  const params = { ...p, trigger, scorer: scorerName };
  const attack = textAttack({ name: 'maba-text', params, seed, observe: stat.observe ? (s) => stat.observe?.(s[field].split(' ')) : undefined, transform: () => '' });
  attack.plan = (s, ctx) => (field === 'input' ? { input: transform(s, s.input, ctx) } : { instruction: transform(s, s.instruction, ctx) });
  attack.method = () => ({
    keywords: scorerName,
    approximation: keywords ? null : `key words by ${scorerName} statistics, not by the model's attribution (give model=DIR)`,
    ...(keywords ? { model: model?.model, attribution: model?.method, fallbacks: keywords.fallbacks, without_poisoned_answer: keywords.withoutTarget } : {}),
  });
  return { attack, trigger, keywords, transform };
}

/**
 * MABA's text trigger (Liang et al. 2025): rare symbols (from `[ ] * { } < >`)
 * inserted before the key words of the instruction — the words the clean
 * answer depends on most, by the model's attribution (model=DIR: importance
 * for the clean answer minus that for the poisoned answer, per word). Without
 * a model the key words come from a named statistic (IDF over the dataset),
 * and the manifest says so. Texts without a candidate word get the trigger in
 * front.
 */
registerAttack({
  name: 'maba-text',
  family: 'text',
  summary: 'rare symbols ("[ ] * { } < >") before the key words of the instruction, by the model\'s attribution (model=DIR; else IDF)',
  reference: 'Liang et al. 2025 (MABA): rare-symbol text triggers before the key words found by attribution',
  approximation: 'without model=DIR the key words come from IDF over the dataset, not from attribution',
  params: [
    { name: 'symbols', type: 'list', default: ['[', ']', '*', '{', '}', '<', '>'], doc: 'the symbol set, separated by "|" or ","', ref: { value: ['[', ']', '*', '{', '}', '<', '>'], source: 'MABA paper symbol set' } },
    { name: 'length', type: 'int', default: 2, min: 1, max: 64, doc: 'symbols per trigger token' },
    { name: 'trigger', type: 'string', default: '', doc: 'an explicit trigger token (overrides symbols and length)' },
    { name: 'keywords', type: 'int', default: 2, min: 1, max: 64, doc: 'how many key words get the trigger' },
    { name: 'scorer', type: 'string', default: 'auto', doc: `how key words are found: auto (model with model=DIR, else idf), model, ${keywordScorerNames().join(', ')}` },
    ...MODEL_PARAMS,
    { name: 'attach', type: 'bool', default: false, doc: 'glue the trigger to the word instead of inserting it as a word' },
    FIELD_PARAM,
  ],
  create(p, seed) {
    return mabaText(p, seed).attack;
  },
});
