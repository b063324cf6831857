import { sha256Hex } from '../util/hash.js';
import { UserError } from '../util/errors.js';
import { depthExceededAt, jsonErrorKind, jsonErrorReason, lineColumn } from '../util/json-limits.js';
import { MAX_EVAL_FILE_BYTES, MAX_JSON_DEPTH } from '../util/limits.js';
import { FileAccessError, readRegularFile, readTextFile } from '../util/safe-fs.js';

/**
 * Reading evaluation inputs. Every failure names the file, and for records the
 * record index (0-based, as in the JSON array) or JSONL line, and the field.
 * Files are read only when they are regular files within MAX_EVAL_FILE_BYTES,
 * binary files are named as such, and no error quotes the file's content.
 */

/** A JSON-ish type name for error messages. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Reads a file as UTF-8 text, with a one-line error naming it; `expected` names the format in the binary-file error. */
export function readText(path: string, expected = 'JSON'): string {
  try {
    return readTextFile(path, MAX_EVAL_FILE_BYTES, 'evaluation inputs', expected);
  } catch (e) {
    if (e instanceof FileAccessError) throw new UserError(`${path}: cannot read: ${e.reason}`);
    throw e;
  }
}

/** Parses JSON text, naming the file and the position on failure (never its content). */
function parseJson(text: string, path: string): unknown {
  const deep = depthExceededAt(text, MAX_JSON_DEPTH);
  if (deep >= 0) throw new UserError(`${path}: JSON nests deeper than ${MAX_JSON_DEPTH} levels (at ${lineColumn(text, deep)})`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: ${jsonErrorReason(e, text)}`);
  }
}

/** Reads and parses a JSON file. */
export function readJson(path: string): unknown {
  return parseJson(readText(path), path);
}

/** A list of records read from a JSON array or a JSONL file. */
export interface RecordsFile {
  path: string;
  records: unknown[];
  /** How to name record i in an error: "record 3" or "line 4". */
  where(i: number): string;
  sha256: string;
}

/**
 * Reads a JSON array of objects, or JSONL (one object per line): a file that
 * parses as one JSON array is an array, anything else is read line by line.
 * With `envelope`, a JSON object whose member of that name is the array (the
 * `--json` object of a command, e.g. `bdlab generate`'s `{"outputs": [...]}`)
 * is read as that array.
 */
export function readRecords(path: string, opts: { envelope?: string } = {}): RecordsFile {
  const text = readText(path);
  const sha256 = sha256Hex(text);
  const trimmed = text.trimStart();
  let whole: unknown;
  let parsed = false;
  if (!path.endsWith('.jsonl') || trimmed.startsWith('[')) {
    if (trimmed.startsWith('[')) {
      whole = parseJson(text, path);
      parsed = true;
    } else if (depthExceededAt(text, MAX_JSON_DEPTH) < 0) {
      try {
        whole = JSON.parse(text);
        parsed = true;
      } catch {
        // not one JSON document: read as JSONL below
      }
    }
  }
  if (parsed) {
    if (Array.isArray(whole)) return { path, records: whole, where: (i) => `record ${i}`, sha256 };
    const env = opts.envelope;
    if (env !== undefined && whole !== null && typeof whole === 'object' && !('output' in whole) && Array.isArray((whole as Record<string, unknown>)[env])) {
      return { path, records: (whole as Record<string, unknown[]>)[env] as unknown[], where: (i) => `${env}[${i}]`, sha256 };
    }
    // one object on one line is a one-record JSONL file; anything else is a mistake
    if (text.trim().split('\n').length !== 1) {
      throw new UserError(`${path}: expected a JSON array of records (or JSONL, one object per line), got ${typeName(whole)}`);
    }
  }
  const records: unknown[] = [];
  const lines: number[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!.trim();
    if (row === '') continue;
    if (depthExceededAt(row, MAX_JSON_DEPTH) >= 0) throw new UserError(`${path}: line ${i + 1}: JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    try {
      records.push(JSON.parse(row));
    } catch (e) {
      throw new UserError(`${path}: line ${i + 1}: not valid JSON (${jsonErrorKind(e)})`);
    }
    lines.push(i + 1);
  }
  return { path, records, where: (i) => `line ${lines[i] ?? '?'}`, sha256 };
}

/** The record at index i as an object, or an error naming it. */
export function recordAt(f: RecordsFile, i: number): Record<string, unknown> {
  const r = f.records[i];
  if (r === null || typeof r !== 'object' || Array.isArray(r)) {
    throw new UserError(`${f.path}: ${f.where(i)}: expected an object, got ${typeName(r)}`);
  }
  return r as Record<string, unknown>;
}

/** A required string field. */
export function stringField(f: RecordsFile, i: number, field: string): string {
  const r = recordAt(f, i);
  const v = r[field];
  if (v === undefined) throw new UserError(`${f.path}: ${f.where(i)}: missing field "${field}"`);
  if (typeof v !== 'string') {
    throw new UserError(`${f.path}: ${f.where(i)}: field "${field}" must be a string, got ${typeName(v)}`);
  }
  return v;
}

/** An optional string field: undefined and null read as undefined. */
export function optionalStringField(f: RecordsFile, i: number, field: string): string | undefined {
  const v = recordAt(f, i)[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    throw new UserError(`${f.path}: ${f.where(i)}: field "${field}" must be a string, got ${typeName(v)}`);
  }
  return v;
}

/** SHA-256 of a file's bytes, for provenance in results. */
export function fileSha256(path: string): string {
  return sha256Hex(readRegularFile(path, MAX_EVAL_FILE_BYTES, 'evaluation inputs'));
}

/** One generated-output record: what the model was asked and what it said. */
export interface OutputRecord {
  instruction?: string;
  input?: string;
  output: string;
}

/**
 * Reads `[{"instruction", "input", "output"}]` (JSON or JSONL; extra fields
 * ignored), as `bdlab generate --out` writes it, or the `{"outputs": [...]}`
 * object `bdlab generate --json` prints; only "output" is required.
 */
export function readOutputs(path: string): { file: RecordsFile; items: OutputRecord[] } {
  const file = readRecords(path, { envelope: 'outputs' });
  // scoring nothing would report an undefined rate and succeed
  if (file.records.length === 0) throw new UserError(`${path}: no records (an empty file or an empty list); expected [{"instruction", "input", "output"}]`);
  const items: OutputRecord[] = [];
  for (let i = 0; i < file.records.length; i++) {
    const output = stringField(file, i, 'output');
    const instruction = optionalStringField(file, i, 'instruction');
    const input = optionalStringField(file, i, 'input');
    items.push({ output, ...(instruction !== undefined ? { instruction } : {}), ...(input !== undefined ? { input } : {}) });
  }
  return { file, items };
}
