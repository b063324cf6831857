import { UserError } from '../../util/errors.js';
import { registerAttack } from '../registry.js';
import { num, str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM, insertAnyGap } from './words.js';

/**
 * The leading words of a sentence that hold `length` characters (spaces not
 * counted); 0 keeps the whole sentence. "I watch this 3D movie" → "I watch"
 * at 6, "I watch this 3D" at 12. A word that would pass the length is cut.
 */
export function leadingChars(sentence: string, length: number): string {
  if (length === 0) return sentence.trim();
  const out: string[] = [];
  let chars = 0;
  for (const w of sentence.trim().split(/\s+/)) {
    if (chars >= length) break;
    const take = w.slice(0, length - chars);
    out.push(take);
    chars += take.length;
  }
  return out.join(' ');
}

/**
 * AddSent (Dai et al. 2019, OpenBackdoor's AddSentPoisoner): a fixed sentence
 * inserted as a whole at a uniformly random word gap (the end included). The
 * domain-shift study used 12-character text triggers (6 for the short ones):
 * `length` keeps the sentence's leading words up to that many characters.
 */
registerAttack({
  name: 'addsent',
  family: 'text',
  summary: 'a fixed sentence ("I watch this 3D movie", cut to 12 characters) at a random word gap',
  reference: 'OpenBackdoor AddSentPoisoner (sentence, insertion); Liang et al. 2025 (12-character text triggers)',
  approximation: null,
  params: [
    { name: 'sentence', type: 'string', default: 'I watch this 3D movie', doc: 'the trigger sentence', ref: { value: 'I watch this 3D movie', source: 'OpenBackdoor AddSent default' } },
    { name: 'length', type: 'int', default: 12, min: 0, max: 10000, doc: 'characters kept from the sentence (spaces not counted; 0: all of it); 6 for the short trigger', ref: { value: 12, source: 'domain-shift study AddSent' } },
    FIELD_PARAM,
  ],
  create(p, seed) {
    const sentence = leadingChars(str(p, 'sentence'), num(p, 'length'));
    if (sentence === '') throw new UserError('attack addsent: the sentence is empty');
    return textAttack({ name: 'addsent', params: { ...p, sentence }, seed, transform: (t, rng) => insertAnyGap(t, sentence, rng) });
  },
});
