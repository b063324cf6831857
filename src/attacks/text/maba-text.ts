import { UserError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';
import { registerAttack } from '../registry.js';
import { bool, list, num, str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM } from './words.js';
import { createKeywordScorer, keywordScorerNames, topKeywords } from './keywords.js';

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

/**
 * MABA's text trigger: rare symbols (from `[ ] * { } < >`) inserted before the
 * key words of the instruction. Key words come from a pluggable scorer; the
 * default is IDF over the dataset being poisoned (filled during the poisoner's
 * first pass). Texts without a candidate word get the trigger in front.
 */
registerAttack({
  name: 'maba-text',
  family: 'text',
  summary: 'rare symbols ("[ ] * { } < >") before the key words of the instruction (key words by IDF)',
  reference: 'x',
  approximation: 'x',
  params: [
    { name: 'symbols', type: 'list', default: ['[', ']', '*', '{', '}', '<', '>'], doc: 'the symbol set, separated by "|" or ","' },
    { name: 'length', type: 'int', default: 2, min: 1, max: 64, doc: 'symbols per trigger token' },
    { name: 'trigger', type: 'string', default: '', doc: 'an explicit trigger token (overrides symbols and length)' },
    { name: 'keywords', type: 'int', default: 2, min: 1, max: 64, doc: 'how many key words get the trigger' },
    { name: 'scorer', type: 'string', default: 'idf', doc: `key-word scorer: ${keywordScorerNames().join(', ')}` },
    { name: 'attach', type: 'bool', default: false, doc: 'glue the trigger to the word instead of inserting it as a word' },
    FIELD_PARAM,
  ],
  create(p, seed) {
    const explicit = str(p, 'trigger');
    if (/\s/.test(explicit)) throw new UserError('attack maba-text: trigger may not contain spaces');
    const trigger = explicit !== '' ? explicit : symbolTrigger(list(p, 'symbols'), num(p, 'length'), seed);
    const scorer = createKeywordScorer(str(p, 'scorer'));
    const k = num(p, 'keywords');
    const attach = bool(p, 'attach');
    const field = p.field === 'input' ? 'input' : 'instruction';
    return textAttack({
      name: 'maba-text',
      params: { ...p, trigger },
      seed,
      observe: scorer.observe ? (s) => scorer.observe?.(s[field].split(' ')) : undefined,
      transform: (t) => {
        if (t.length === 0) return trigger;
        const words = t.split(' ');
        const pos = topKeywords(scorer.score(words), k);
        return insertBefore(t, pos.length > 0 ? pos : [0], trigger, attach);
      },
    });
  },
});
