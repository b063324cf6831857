// Reading a text set for perplexity: lines of a .txt file, or JSON/JSONL
// records (instruction records, or a named plain-text field).
import { extname } from 'node:path';
import { UserError } from '../../util/errors.js';
import { sha256Hex } from '../../util/hash.js';
import { optionalStringField, readRecords, readText, recordAt, stringField, typeName } from '../io.js';
import type { PerplexityItem } from './encode.js';

export interface PerplexityData {
  path: string;
  items: PerplexityItem[];
  /** Records (or non-blank lines) read. */
  records: number;
  sha256: string;
  /** 'lines' for .txt; else the field scored and whether it is conditioned on the prompt. */
  format: 'lines' | 'records';
  field: string | null;
  conditioned: boolean;
}

/**
 * Reads a text set: a .txt file is one text per line (blank lines are
 * separators, not texts); JSON (an array) or JSONL holds records, and `field`
 * names the text. With field "output" (the default) and `conditioned`, each
 * record is an instruction record: "instruction" (string) and optional
 * "input" form the prompt and "output" is scored; any other field (or
 * conditioned false) is scored as plain text. Errors name the file, the
 * record (`record 3` or `line 4`) and the field.
 */
export function readPerplexityData(path: string, o: { field?: string; conditioned?: boolean } = {}): PerplexityData {
  if (extname(path).toLowerCase() === '.txt') {
    if (o.field !== undefined) throw new UserError(`${path}: a .txt file is one text per line; --field applies to JSON and JSONL records`);
    const text = readText(path, 'text');
    const items = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
    return { path, items, records: items.length, sha256: sha256Hex(text), format: 'lines', field: null, conditioned: false };
  }
  const field = o.field ?? 'output';
  const conditioned = field === 'output' && (o.conditioned ?? true);
  const file = readRecords(path);
  const items: PerplexityItem[] = [];
  for (let i = 0; i < file.records.length; i++) {
    if (!conditioned) {
      const r = recordAt(file, i);
      if (r[field] === undefined) throw new UserError(`${path}: ${file.where(i)}: missing field "${field}"${o.field === undefined ? ' (pick the text field with --field)' : ''}`);
      items.push(stringField(file, i, field));
      continue;
    }
    const r = recordAt(file, i);
    if (r.output === undefined) {
      throw new UserError(`${path}: ${file.where(i)}: missing field "output"${o.field === undefined ? ' (for plain texts pick the field with --field, e.g. --field text)' : ''}`);
    }
    const output = stringField(file, i, 'output');
    if (r.instruction === undefined) throw new UserError(`${path}: ${file.where(i)}: missing field "instruction" (the prompt the output is scored after; --no-prompt scores the output alone)`);
    if (typeof r.instruction !== 'string') throw new UserError(`${path}: ${file.where(i)}: field "instruction" must be a string, got ${typeName(r.instruction)}`);
    const input = optionalStringField(file, i, 'input');
    items.push({ instruction: r.instruction, ...(input !== undefined ? { input } : {}), output });
  }
  return { path, items, records: file.records.length, sha256: file.sha256, format: 'records', field, conditioned };
}
