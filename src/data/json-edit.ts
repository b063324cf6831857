/**
 * Edits inside one JSON value's original bytes: find the byte span of the
 * value at a path (`['conversations', 0, 'value']`) and replace it, copying
 * every other byte unchanged. This is how a changed record keeps the fields the
 * attack did not touch exactly as they were: integers beyond 2^53, `1e400`,
 * `1.0`, `-0.0`, key order, whitespace, escapes and even invalid UTF-8 outside
 * the edited strings — none of them goes through JSON.parse/stringify.
 *
 * The scanner is iterative (nesting depth costs no stack) and expects a value
 * that JSON.parse has already accepted; a member name that occurs twice
 * resolves to its last occurrence, as JSON.parse does.
 */
export type JsonPath = readonly (string | number)[];

/** Byte offsets [start, end) of a value in a buffer. */
export interface Span {
  start: number;
  end: number;
}

export interface JsonEdit {
  path: JsonPath;
  /** The new value; written with JSON.stringify. */
  value: unknown;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipWs(b: Uint8Array, i: number): number {
  while (i < b.length && isWs(b[i])) i++;
  return i;
}

function malformed(i: number): Error {
  return new Error(`json-edit: malformed JSON at byte ${i}`);
}

/** End (exclusive) of the string whose opening quote is at i. */
function stringEnd(b: Buffer, i: number): number {
  let j = i + 1;
  while (true) {
    const q = b.indexOf(QUOTE, j);
    if (q === -1) throw malformed(i);
    // an odd number of backslashes before the quote escapes it
    let k = q - 1;
    while (k > i && b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** End (exclusive) of the value starting at i (no leading whitespace). */
function valueEnd(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return stringEnd(b, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    let j = i;
    while (j < b.length) {
      const d = b[j] as number;
      if (d === QUOTE) {
        j = stringEnd(b, j);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw malformed(i);
  }
  let j = i;
  while (j < b.length) {
    const d = b[j];
    if (isWs(d) || d === 0x2c || d === 0x5d || d === 0x7d) break;
    j++;
  }
  if (j === i) throw malformed(i);
  return j;
}

/** The span of the whole value in `b` (leading and trailing whitespace excluded). */
function rootSpan(b: Buffer): Span {
  const start = skipWs(b, 0);
  return { start, end: valueEnd(b, start) };
}

interface Member {
  key: Span;
  value: Span;
}

/** Members of the object at `obj` (start of `{`), in order. */
function members(b: Buffer, obj: Span): Member[] {
  const out: Member[] = [];
  let i = skipWs(b, obj.start + 1);
  if (b[i] === 0x7d) return out;
  while (i < obj.end) {
    if (b[i] !== QUOTE) throw malformed(i);
    const key = { start: i, end: stringEnd(b, i) };
    i = skipWs(b, key.end);
    if (b[i] !== 0x3a) throw malformed(i);
    i = skipWs(b, i + 1);
    const value = { start: i, end: valueEnd(b, i) };
    out.push({ key, value });
    i = skipWs(b, value.end);
    if (b[i] === 0x2c) i = skipWs(b, i + 1);
    else if (b[i] === 0x7d) break;
    else throw malformed(i);
  }
  return out;
}

/** Elements of the array at `arr` (start of `[`), in order. */
function elements(b: Buffer, arr: Span): Span[] {
  const out: Span[] = [];
  let i = skipWs(b, arr.start + 1);
  if (b[i] === 0x5d) return out;
  while (i < arr.end) {
    const v = { start: i, end: valueEnd(b, i) };
    out.push(v);
    i = skipWs(b, v.end);
    if (b[i] === 0x2c) i = skipWs(b, i + 1);
    else if (b[i] === 0x5d) break;
    else throw malformed(i);
  }
  return out;
}

function keyIs(b: Buffer, key: Span, name: string): boolean {
  const inner = b.subarray(key.start + 1, key.end - 1);
  if (inner.indexOf(BACKSLASH) === -1) return inner.length === Buffer.byteLength(name) && inner.toString('utf8') === name;
  return JSON.parse(b.toString('utf8', key.start, key.end)) === name;
}

function child(b: Buffer, at: Span, step: string | number): { found: Span } | { missing: Span } {
  if (typeof step === 'number') {
    if (b[at.start] !== 0x5b) throw new Error(`json-edit: expected an array for index ${step}`);
    const el = elements(b, at)[step];
    if (!el) throw new Error(`json-edit: no element ${step}`);
    return { found: el };
  }
  if (b[at.start] !== 0x7b) throw new Error(`json-edit: expected an object for "${step}"`);
  let hit: Span | null = null;
  for (const m of members(b, at)) if (keyIs(b, m.key, step)) hit = m.value;
  return hit ? { found: hit } : { missing: at };
}

/** The span of the value at `path`, or null when the last member is absent. */
export function findValue(b: Buffer, path: JsonPath): Span | null {
  let at = rootSpan(b);
  for (const step of path) {
    const r = child(b, at, step);
    if ('missing' in r) return null;
    at = r.found;
  }
  return at;
}

/** The raw text of the value at `path` (e.g. a number exactly as written), or null. */
export function rawValue(b: Buffer, path: JsonPath): string | null {
  const s = findValue(b, path);
  return s ? b.toString('utf8', s.start, s.end) : null;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

/**
 * Applies the edits to a copy of `b`: each value at an edit's path is replaced
 * by JSON.stringify(value); a missing last member is added after the object's
 * last member. Paths must not overlap.
 */
export function editJson(b: Buffer, edits: readonly JsonEdit[]): Buffer {
  if (edits.length === 0) return b;
  const splices: Splice[] = [];
  for (const e of edits) {
    let at = rootSpan(b);
    const last = e.path.length - 1;
    for (let k = 0; k <= last; k++) {
      const step = e.path[k] as string | number;
      const r = child(b, at, step);
      if ('found' in r) {
        at = r.found;
        if (k === last) splices.push({ start: at.start, end: at.end, text: JSON.stringify(e.value) });
        continue;
      }
      if (k !== last) throw new Error(`json-edit: no member "${step}"`);
      // add the member after the last one (or right after "{")
      const ms = members(b, r.missing);
      const pos = ms.length > 0 ? (ms[ms.length - 1] as Member).value.end : r.missing.start + 1;
      splices.push({ start: pos, end: pos, text: `${ms.length > 0 ? ', ' : ''}${JSON.stringify(step)}: ${JSON.stringify(e.value)}` });
    }
  }
  splices.sort((x, y) => x.start - y.start);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const s of splices) {
    if (s.start < pos) throw new Error('json-edit: overlapping edits');
    parts.push(b.subarray(pos, s.start), Buffer.from(s.text, 'utf8'));
    pos = s.end;
  }
  parts.push(b.subarray(pos));
  return Buffer.concat(parts);
}
