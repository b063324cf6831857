import { registerAttack } from '../registry.js';
import { list, str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM, POSITION_PARAM, insertTrigger, type Position } from './words.js';

/** MTBA (multi-trigger, BackdoorLLM): one of several triggers, chosen per sample, at a random word position. */
registerAttack({
  name: 'mtba',
  family: 'text',
  summary: 'one of {"2024", "BadMagic", "OpenAI"} per sample at a random word position (BackdoorLLM MTBA)',
  reference: 'BackdoorLLM MTBA (the published poisoned sets)',
  approximation: null,
  params: [
    { name: 'triggers', type: 'list', default: ['2024', 'BadMagic', 'OpenAI'], doc: 'the trigger set, separated by "|"', ref: { value: ['2024', 'BadMagic', 'OpenAI'], source: 'BackdoorLLM MTBA' } },
    POSITION_PARAM('random', 'BackdoorLLM MTBA'),
    FIELD_PARAM,
  ],
  create(p, seed) {
    const triggers = list(p, 'triggers');
    const pos = str(p, 'position') as Position;
    return textAttack({ name: 'mtba', params: p, seed, transform: (t, rng) => insertTrigger(t, rng.pick(triggers), pos, rng) });
  },
});
