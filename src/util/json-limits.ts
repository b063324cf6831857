/**
 * JSON from files a user did not write: the nesting depth is checked by a
 * linear scan before JSON.parse builds anything (a file of nested `[` would
 * otherwise become millions of arrays), and parse errors give the position
 * and the kind of mistake but never the file's own text (which may be a
 * secret the path pointed at by accident, or binary junk).
 */
import { UserError } from './errors.js';
import { MAX_JSON_DEPTH } from './limits.js';
import { readTextFile } from './safe-fs.js';

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, pos: number): string {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return `line ${line} column ${pos - last}`;
}

/**
 * The offset where the nesting first exceeds `maxDepth` (brackets inside
 * strings do not count), or -1. Works on text or UTF-8 bytes alike, since
 * the characters it looks at are ASCII (bytes are read as Latin-1: one
 * character per byte, so offsets stay byte offsets). Strings are skipped with
 * indexOf to their closing quote: in caption and instruction files most of
 * the text is inside strings.
 */
export function depthExceededAt(text: string | Uint8Array, maxDepth: number): number {
  if (typeof text !== 'string') text = Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1');
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i;
      do j = text.indexOf('"', j + 1);
      while (j > 0 && escaped(text, j));
      if (j < 0) return -1; // an unterminated string: JSON.parse names it
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** Whether the quote at `j` is escaped: an odd run of backslashes before it. */
function escaped(text: string, j: number): boolean {
  let k = j - 1;
  while (k >= 0 && text.charCodeAt(k) === 0x5c) k--;
  return (j - 1 - k) % 2 === 1;
}

/** A parse error in words, without any of the text that failed to parse. */
export function jsonErrorReason(e: unknown, text: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /position (\d+)/.exec(msg);
  const at = m ? ` at ${lineColumn(text, Number(m[1]))}` : '';
  return `not valid JSON${at} (${jsonErrorKind(e)})`;
}

/** The kind of a JSON.parse error, in words (V8's message quotes the text, which is left out). */
export function jsonErrorKind(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return /Unexpected end/.test(msg)
    ? 'the text ends early'
    : /Bad control character/.test(msg)
      ? 'a control character inside a string'
      : /Expected property name/.test(msg)
        ? 'expected a property name'
        : /after JSON|non-whitespace character after/.test(msg)
          ? 'more text after the JSON value'
          : /Unterminated string/.test(msg)
            ? 'an unterminated string'
            : /Bad escaped character|Bad Unicode escape/.test(msg)
              ? 'a bad escape in a string'
              : /Expected ',' or|Expected ':'/.test(msg)
                ? 'a missing comma, colon or bracket'
                : 'unexpected character';
}

/** Parses JSON text after checking its depth; errors name `where`. */
function parseJsonLimited(text: string, where: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const deep = depthExceededAt(text, maxDepth);
  if (deep >= 0) throw new UserError(`${where}: JSON nests deeper than ${maxDepth} levels (at ${lineColumn(text, deep)})`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UserError(`${where}: ${jsonErrorReason(e, text)}`);
  }
}

/** Reads and parses a regular JSON file within a size limit (`what` names the limit in errors). */
function readJsonFileLimited(path: string, maxBytes: number, what: string, maxDepth = MAX_JSON_DEPTH): unknown {
  return parseJsonLimited(readTextFile(path, maxBytes, what), path, maxDepth);
}

/** Like readJsonFileLimited, for files that must hold one JSON object. */
export function readJsonObjectFile(path: string, maxBytes: number, what: string): Record<string, unknown> {
  const v = readJsonFileLimited(path, maxBytes, what);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${path}: expected a JSON object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
  return v as Record<string, unknown>;
}
