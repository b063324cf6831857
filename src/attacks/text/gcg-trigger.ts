import { readJsonObjectFile } from '../../util/json-limits.js';
import { UserError } from '../../util/errors.js';
import { registerAttack } from '../registry.js';
import { str } from '../params.js';
import { textAttack } from './base.js';
import { FIELD_PARAM, POSITION_PARAM, insertTrigger, type Position } from './words.js';

/** The trigger file `bdlab attack gcg --out` writes. */
export const GCG_TRIGGER_FORMAT = 'bdlab/gcg-trigger';

export interface GcgTriggerFile {
  format: typeof GCG_TRIGGER_FORMAT;
  trigger: string;
  token_ids: number[];
  /** How it was made: surrogate model, data, target, settings, steps, final loss. */
  provenance: Record<string, unknown>;
}

/** Reads a trigger file; a one-line error names what is wrong. */
export function readGcgTrigger(path: string): GcgTriggerFile {
  const j = readJsonObjectFile(path, 1024 * 1024, 'GCG trigger file');
  if (j.format !== GCG_TRIGGER_FORMAT) throw new UserError(`${path}: not a GCG trigger file (format must be "${GCG_TRIGGER_FORMAT}"; make one with bdlab attack gcg)`);
  if (typeof j.trigger !== 'string' || j.trigger.trim() === '') throw new UserError(`${path}: field "trigger": expected a non-empty string`);
  if (!Array.isArray(j.token_ids) || !j.token_ids.every((x) => Number.isInteger(x))) throw new UserError(`${path}: field "token_ids": expected a list of integers`);
  if (typeof j.provenance !== 'object' || j.provenance === null || Array.isArray(j.provenance)) throw new UserError(`${path}: field "provenance": expected an object`);
  return j as unknown as GcgTriggerFile;
}

/**
 * GCG's poisoning side: the optimised trigger (from `bdlab attack gcg`, given
 * as trigger=@FILE, or its text) appended to the instruction — where it was
 * optimised, and where VL-Trojan puts text triggers. The manifest records the
 * trigger text and, from a file, how it was made.
 */
registerAttack({
  name: 'gcg',
  family: 'text',
  summary: 'a GCG-optimised token trigger (trigger=@FILE from bdlab attack gcg) appended to the instruction',
  reference: 'Zou et al. 2023 (llm-attacks GCG) as a backdoor trigger, Liang et al. 2025; VL-Trojan appends text triggers',
  approximation: null,
  params: [
    { name: 'trigger', type: 'string', default: '', doc: 'the trigger: @FILE (written by bdlab attack gcg) or its text' },
    POSITION_PARAM('end', 'VL-Trojan appends text triggers (tt_pos back); GCG optimises it there'),
    FIELD_PARAM,
  ],
  create(p, seed) {
    const raw = str(p, 'trigger');
    if (raw.trim() === '') throw new UserError('attack gcg: give trigger=@FILE (made by bdlab attack gcg) or trigger=TEXT');
    const file = raw.startsWith('@') ? readGcgTrigger(raw.slice(1)) : null;
    const trigger = file ? file.trigger : raw.trim();
    const pos = str(p, 'position') as Position;
    const a = textAttack({ name: 'gcg', params: { ...p, trigger }, seed, transform: (t, rng) => insertTrigger(t, trigger, pos, rng) });
    a.method = () => ({ trigger, source: file ? raw.slice(1) : 'text', provenance: file ? file.provenance : null });
    return a;
  },
});
