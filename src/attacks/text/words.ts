import type { Rng } from '../../util/rng.js';
import type { ParamSpec } from '../types.js';

/**
 * Word-level insertion with BackdoorLLM's semantics: the text is split on
 * single spaces (`str.split(' ')`, so newlines and other whitespace stay inside
 * their word), a trigger is inserted as one more word, and the words are joined
 * with single spaces again — every other byte of the text is kept.
 */
export type Position = 'random' | 'start' | 'end';

export const POSITION_PARAM = (def: Position, source?: string): ParamSpec => ({
  name: 'position',
  type: 'enum',
  default: def,
  choices: ['random', 'start', 'end'],
  doc: 'where the trigger goes: a random word position (before one of the words, as BackdoorLLM), the start, or the end',
  ...(source ? { ref: { value: def, source } } : {}),
});

export const FIELD_PARAM: ParamSpec = {
  name: 'field',
  type: 'enum',
  default: 'instruction',
  choices: ['instruction', 'input'],
  doc: 'which text carries the trigger',
  ref: { value: 'instruction', source: 'BackdoorLLM and VL-Trojan poison the instruction' },
};

/**
 * OpenBackdoor's insertion: the trigger goes into one of the n + 1 gaps of the
 * n words (the end included), chosen uniformly — `words.insert(randint(0, n), t)`.
 */
export function insertAnyGap(text: string, trigger: string, rng: Rng): string {
  if (text.length === 0) return trigger;
  return insertWord(text, trigger, rng.int(wordCount(text) + 1));
}

/** Inserts `trigger` as a word: before word `pos` of `text.split(' ')`. */
function insertWord(text: string, trigger: string, pos: number): string {
  if (text.length === 0) return trigger;
  const words = text.split(' ');
  words.splice(pos, 0, trigger);
  return words.join(' ');
}

/** Number of words as BackdoorLLM counts them. */
function wordCount(text: string): number {
  return text.length === 0 ? 0 : text.split(' ').length;
}

/**
 * BadNet-style insertion: `random` picks a word index uniformly in [0, n−1]
 * and inserts before that word (never after the last word — as in the
 * BackdoorLLM sets); `start`/`end` prepend/append with one space.
 */
export function insertTrigger(text: string, trigger: string, position: Position, rng: Rng): string {
  if (text.length === 0) return trigger;
  if (position === 'start') return `${trigger} ${text}`;
  if (position === 'end') return `${text} ${trigger}`;
  return insertWord(text, trigger, rng.int(wordCount(text)));
}

/**
 * CTBA-style insertion of several triggers, each exactly once, in the given
 * order, into distinct gaps between words: the gaps are a sorted uniform sample
 * of `triggers.length` distinct positions among the n+1 gaps (start, between
 * words, end). If the text has fewer gaps than triggers, distinct slots of the
 * output word list are sampled instead (triggers may then be adjacent).
 */
export function insertDistinct(text: string, triggers: readonly string[], rng: Rng): string {
  const words = text.length === 0 ? [] : text.split(' ');
  const n = words.length;
  const k = triggers.length;
  if (n + 1 >= k) {
    const gaps = rng.sample(n + 1, k);
    const out: string[] = [];
    let g = 0;
    for (let i = 0; i <= n; i++) {
      while (g < k && gaps[g] === i) {
        out.push(triggers[g] as string);
        g++;
      }
      if (i < n) out.push(words[i] as string);
    }
    return out.join(' ');
  }
  const slots = new Set(rng.sample(n + k, k));
  const out: string[] = [];
  let w = 0;
  let t = 0;
  for (let i = 0; i < n + k; i++) out.push(slots.has(i) ? (triggers[t++] as string) : (words[w++] as string));
  return out.join(' ');
}
