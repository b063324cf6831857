// Inputs to score (detection): records with "instruction" and an optional
// "input" (an "output" is ignored), from a JSON array or JSONL; errors name
// the file, record and field.
import { optionalStringField, readRecords, stringField } from '../eval/io.js';
import type { InstructionSample } from '../models/prompt.js';
import { UserError } from '../util/errors.js';

export function readInputs(path: string): InstructionSample[] {
  const f = readRecords(path);
  if (f.records.length === 0) throw new UserError(`${path}: no records`);
  return f.records.map((_, i) => {
    const input = optionalStringField(f, i, 'input');
    return { instruction: stringField(f, i, 'instruction'), ...(input !== undefined ? { input } : {}) };
  });
}
