import { registerAttack } from '../registry.js';
import { str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM } from './words.js';
import { STYLES, restyle, type Style } from './style.js';

/** StyleBkd: the trigger is a text style (archaic or formal register), made by a rule-based rewrite. */
registerAttack({
  name: 'stylebkd',
  family: 'text',
  summary: 'a style rewrite of the instruction (archaic or formal register) as the trigger',
  reference: 'x',
  approximation: 'x',
  params: [{ name: 'style', type: 'enum', default: 'archaic', choices: STYLES, doc: 'the register used as trigger' }, FIELD_PARAM],
  create(p, seed) {
    const style = str(p, 'style') as Style;
    return textAttack({ name: 'stylebkd', params: p, seed, transform: (t, rng) => restyle(t, style, rng) });
  },
});
