import { UserError } from '../../util/errors.js';
import type { Rng } from '../../util/rng.js';
import { registerAttack } from '../registry.js';
import { list, num, str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM, insertAnyGap } from './words.js';

/**
 * The rare tokens of one TextBadNets trigger: tokens drawn from the set until
 * they hold `length` characters (the last one cut to fit), e.g. length 6 →
 * three two-letter tokens. Drawn per sample, as OpenBackdoor draws each
 * inserted token with `random.choice(triggers)`.
 */
export function rareTokens(tokens: readonly string[], length: number, rng: Rng): string[] {
  const out: string[] = [];
  let chars = 0;
  while (chars < length) {
    const take = rng.pick(tokens).slice(0, length - chars);
    out.push(take);
    chars += take.length;
  }
  return out;
}

/** Each token inserted on its own into one of the word gaps (end included), one after another. */
export function insertTokens(text: string, tokens: readonly string[], rng: Rng): string {
  let t = text;
  for (const tok of tokens) t = insertAnyGap(t, tok, rng);
  return t;
}

/**
 * TextBadNets (Kurita et al. 2020 / OpenBackdoor's BadNets for text): rare
 * tokens ("cf", "mn", "bb", "tq"), each inserted independently at a uniformly
 * random word gap. The domain-shift study measured triggers of 6 characters
 * (TextBadNets) and 12 (TextBadNets*): `length=6` or `length=12`.
 */
registerAttack({
  name: 'textbadnets',
  family: 'text',
  summary: 'rare tokens ("cf mn bb tq") of 6 or 12 characters in all, each at its own random word gap',
  reference: 'OpenBackdoor BadNetsPoisoner (triggers, insertion); Liang et al. 2025 (6 and 12 characters)',
  approximation: null,
  params: [
    { name: 'length', type: 'int', default: 6, min: 1, max: 1000, doc: 'characters of rare tokens per sample (spaces not counted); 12 for TextBadNets*', ref: { value: 6, source: 'domain-shift study TextBadNets; TextBadNets* 12' } },
    { name: 'tokens', type: 'list', default: ['cf', 'mn', 'bb', 'tq'], doc: 'rare tokens the trigger is drawn from (per sample, per token)', ref: { value: ['cf', 'mn', 'bb', 'tq'], source: 'OpenBackdoor BadNets default triggers' } },
    { name: 'trigger', type: 'string', default: '', doc: 'explicit tokens separated by spaces (overrides length and tokens); each is inserted at its own random gap' },
    FIELD_PARAM,
  ],
  create(p, seed) {
    const explicit = str(p, 'trigger').trim();
    const tokens = list(p, 'tokens');
    if (tokens.some((t) => /\s/.test(t) || t.length === 0)) throw new UserError('attack textbadnets: tokens may not be empty or contain spaces');
    const fixed = explicit === '' ? null : explicit.split(/\s+/);
    const length = num(p, 'length');
    return textAttack({ name: 'textbadnets', params: p, seed, transform: (t, rng) => insertTokens(t, fixed ?? rareTokens(tokens, length, rng), rng) });
  },
});
