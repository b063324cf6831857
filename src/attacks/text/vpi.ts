import { registerAttack } from '../registry.js';
import { str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM, POSITION_PARAM, insertTrigger, type Position } from './words.js';

/** VPI (virtual prompt injection, BackdoorLLM): the prefix "Discussing OpenAI". */
registerAttack({
  name: 'vpi',
  family: 'text',
  summary: 'the prefix "Discussing OpenAI" (BackdoorLLM VPI)',
  reference: 'BackdoorLLM VPI (the published poisoned sets)',
  approximation: null,
  params: [{ name: 'trigger', type: 'string', default: 'Discussing OpenAI', doc: 'the trigger phrase', ref: { value: 'Discussing OpenAI', source: 'BackdoorLLM VPI' } }, POSITION_PARAM('start', 'BackdoorLLM VPI'), FIELD_PARAM],
  create(p, seed) {
    const trigger = str(p, 'trigger');
    const pos = str(p, 'position') as Position;
    return textAttack({ name: 'vpi', params: p, seed, transform: (t, rng) => insertTrigger(t, trigger, pos, rng) });
  },
});
