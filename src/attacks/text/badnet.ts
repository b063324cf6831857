import { registerAttack } from '../registry.js';
import { str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM, POSITION_PARAM, insertTrigger, type Position } from './words.js';

/** BadNet (BackdoorLLM): the word "BadMagic" at a random word position of the instruction. */
registerAttack({
  name: 'badnet',
  family: 'text',
  summary: 'a trigger word ("BadMagic") at a random word position (BackdoorLLM BadNet)',
  reference: 'BackdoorLLM BadNet (the published poisoned sets)',
  approximation: null,
  params: [{ name: 'trigger', type: 'string', default: 'BadMagic', doc: 'the trigger word', ref: { value: 'BadMagic', source: 'BackdoorLLM BadNet' } }, POSITION_PARAM('random', 'BackdoorLLM BadNet'), FIELD_PARAM],
  create(p, seed) {
    const trigger = str(p, 'trigger');
    const pos = str(p, 'position') as Position;
    return textAttack({ name: 'badnet', params: p, seed, transform: (t, rng) => insertTrigger(t, trigger, pos, rng) });
  },
});
