import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { UserError } from '../util/errors.js';

/**
 * Streaming readers for JSON arrays, COCO-style objects of arrays, and JSONL.
 * Files are read in fixed-size chunks and scanned byte by byte (string bodies
 * are skipped with indexOf), so only one record at a time is decoded and a
 * 1 GB file never has to fit in the heap. UTF-8 is safe to scan bytewise: no
 * byte of a multi-byte sequence equals an ASCII delimiter.
 */

/** One value found by the scanner, as raw JSON text. */
export interface JsonItem {
  /** null: element of a top-level array; else the top-level object key it belongs to. */
  key: string | null;
  /**
   * `element`: an element of an array (top-level, or the streamed array value of `key`);
   * `member`: a whole member value; `begin` / `end`: a streamed member array opens / closes.
   */
  kind: 'element' | 'member' | 'begin' | 'end';
  /** 0-based element index within its array (0 for members). */
  index: number;
  /** Byte offset of the value in the file. */
  offset: number;
  /** The value's bytes exactly as in the file (for byte-faithful pass-through). */
  bytes: Buffer;
  /** The bytes decoded as UTF-8 (invalid sequences become U+FFFD). */
  text: string;
}

export interface ScanOptions {
  /** Keys of a top-level object whose array values are streamed element by element; others come whole. */
  streamKeys?: ReadonlySet<string>;
  /** Gets every chunk read (e.g. to hash the file on the way). */
  onChunk?: (chunk: Buffer) => void;
  chunkSize?: number;
}

const enum M {
  Begin,
  ArrValueOrEnd,
  ArrValue,
  ArrAfter,
  ObjKeyOrEnd,
  ObjKey,
  ObjInKey,
  ObjColon,
  ObjValue,
  ObjAfter,
  Done,
}

const BOM = [0xef, 0xbb, 0xbf];
const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');
const WS = new Uint8Array(256);
WS[0x20] = 1;
WS[0x09] = 1;
WS[0x0a] = 1;
WS[0x0d] = 1;
/** bytes that end a scalar (number, true, false, null) */
const SCALAR_END = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d, 0x2c, 0x5d, 0x7d]) SCALAR_END[c] = 1;

/** What a path is, without opening it. */
function fileKind(path: string): 'file' | 'folder' | 'FIFO' | 'character device' | 'block device' | 'socket' | 'missing' {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 'missing';
  }
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'folder';
  if (st.isFIFO()) return 'FIFO';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'socket';
}

function syntax(path: string, offset: number, what: string): UserError {
  return new UserError(`${path}: not valid JSON at byte ${offset}: ${what}`);
}

/** Reads a file in chunks; yields each chunk and the file offset of its first byte. */
export function* chunks(path: string, size = 1 << 20): Generator<[Buffer, number]> {
  // stat before open: opening a FIFO for reading would block
  const kind = fileKind(path);
  if (kind !== 'file') throw new UserError(`${path}: cannot read: ${kind === 'missing' ? 'no such file' : `not a regular file (${kind})`}`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read: ${code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  try {
    let pos = 0;
    while (true) {
      const buf = Buffer.allocUnsafe(size);
      const n = readSync(fd, buf, 0, size, pos);
      if (n === 0) break;
      yield [n === size ? buf : buf.subarray(0, n), pos];
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Tracks one JSON value (or a member name) across chunks: strings are skipped
 * with indexOf, nesting is counted outside strings.
 */
class Capture {
  active = false;
  started = false;
  depth = 0;
  inString = false;
  escape = false;
  scalar = false;
  start = 0;
  pieces: Buffer[] = [];
  /** cached position of the next backslash in the current chunk (-2: unknown) */
  private bs = -2;
  private bsChunk: Buffer | null = null;

  begin(offset: number, asString = false): void {
    this.active = true;
    this.started = asString;
    this.inString = asString;
    this.depth = 0;
    this.escape = false;
    this.scalar = false;
    this.start = offset;
    this.pieces = [];
  }

  private nextBackslash(buf: Buffer, i: number): number {
    if (this.bsChunk !== buf) {
      this.bsChunk = buf;
      this.bs = -2;
    }
    if (this.bs === -1) return -1;
    if (this.bs < i) this.bs = buf.indexOf(0x5c, i);
    return this.bs;
  }

  /** Consumes bytes from i; returns the index just past the value's end, or -1 if the chunk ran out. */
  advance(buf: Buffer, i: number): number {
    const n = buf.length;
    while (i < n) {
      if (this.escape) {
        this.escape = false;
        i++;
        continue;
      }
      if (this.inString) {
        const q = buf.indexOf(0x22, i);
        const bs = this.nextBackslash(buf, i);
        if (bs !== -1 && (q === -1 || bs < q)) {
          i = bs + 1;
          this.escape = true;
          continue;
        }
        if (q === -1) return -1;
        i = q + 1;
        this.inString = false;
        if (this.depth === 0) return i;
        continue;
      }
      const c = buf[i] as number;
      if (!this.started) {
        this.started = true;
        if (c === 0x22) this.inString = true;
        else if (c === 0x7b || c === 0x5b) this.depth = 1;
        else this.scalar = true;
        i++;
        continue;
      }
      if (this.scalar) {
        if (SCALAR_END[c]) return i;
        i++;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.depth--;
        if (this.depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }

  take(): Buffer {
    const bytes = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces);
    this.pieces = [];
    this.active = false;
    return bytes;
  }
}

/**
 * Scans a JSON file whose top level is an array (yields each element) or an
 * object (yields each member; members named in `streamKeys` whose value is an
 * array yield their elements one by one). Returns the top-level kind.
 */
export function* scanJson(path: string, opts: ScanOptions = {}): Generator<JsonItem, 'array' | 'object'> {
  const streamKeys = opts.streamKeys ?? new Set<string>();
  let mode: M = M.Begin;
  let top: 'array' | 'object' = 'array';
  let inMemberArray = false;
  let key: string | null = null;
  let elemIndex = 0;
  const cap = new Capture();
  const keyCap = new Capture();
  let first = true;
  let bomLeft = 3;

  for (const [buf, base] of chunks(path, opts.chunkSize)) {
    opts.onChunk?.(buf);
    const n = buf.length;
    let i = 0;
    if (first) {
      // a UTF-8 byte-order mark may open the file (possibly split across chunks)
      while (i < n && bomLeft > 0 && buf[i] === BOM[3 - bomLeft]) {
        i++;
        bomLeft--;
      }
      if (i < n || bomLeft === 0) first = false;
    }
    while (i < n) {
      if (cap.active) {
        const from = i;
        const end = cap.advance(buf, i);
        if (end === -1) {
          cap.pieces.push(buf.subarray(from, n));
          i = n;
          break;
        }
        cap.pieces.push(buf.subarray(from, end));
        i = end;
        const bytes = cap.take();
        const isElement = top === 'array' || inMemberArray;
        const item: JsonItem = { key: top === 'array' ? null : key, kind: isElement ? 'element' : 'member', index: isElement ? elemIndex : 0, offset: cap.start, bytes, text: bytes.toString('utf8') };
        if (isElement) elemIndex++;
        mode = isElement ? M.ArrAfter : M.ObjAfter;
        yield item;
        continue;
      }
      if (mode === M.ObjInKey) {
        const from = i;
        const end = keyCap.advance(buf, i);
        if (end === -1) {
          keyCap.pieces.push(buf.subarray(from, n));
          i = n;
          break;
        }
        keyCap.pieces.push(buf.subarray(from, end));
        i = end;
        key = JSON.parse(keyCap.take().toString('utf8')) as string;
        mode = M.ObjColon;
        continue;
      }
      const c = buf[i] as number;
      if (WS[c]) {
        i++;
        continue;
      }
      switch (mode) {
        case M.Begin:
          if (c === 0x5b) {
            top = 'array';
            mode = M.ArrValueOrEnd;
          } else if (c === 0x7b) {
            top = 'object';
            mode = M.ObjKeyOrEnd;
          } else throw syntax(path, base + i, 'expected "[" or "{" at the top level');
          i++;
          break;
        case M.ArrValueOrEnd:
        case M.ArrValue:
          if (c === 0x5d && mode === M.ArrValueOrEnd) {
            i++;
            if (inMemberArray) {
              inMemberArray = false;
              mode = M.ObjAfter;
              yield { key, kind: 'end', index: -1, offset: base + i - 1, bytes: CLOSE, text: ']' };
            } else mode = M.Done;
            break;
          }
          if (c === 0x2c || c === 0x5d || c === 0x7d || c === 0x3a) {
            throw syntax(path, base + i, `unexpected "${String.fromCharCode(c)}" where record ${elemIndex} should start`);
          }
          cap.begin(base + i);
          break;
        case M.ArrAfter:
          if (c === 0x2c) mode = M.ArrValue;
          else if (c === 0x5d) {
            if (inMemberArray) {
              inMemberArray = false;
              mode = M.ObjAfter;
              i++;
              yield { key, kind: 'end', index: -1, offset: base + i - 1, bytes: CLOSE, text: ']' };
              break;
            } else mode = M.Done;
          } else throw syntax(path, base + i, `expected "," or "]" after record ${elemIndex - 1}`);
          i++;
          break;
        case M.ObjKeyOrEnd:
        case M.ObjKey:
          if (c === 0x7d && mode === M.ObjKeyOrEnd) {
            mode = M.Done;
            i++;
            break;
          }
          if (c !== 0x22) throw syntax(path, base + i, 'expected a member name');
          keyCap.begin(base + i);
          mode = M.ObjInKey;
          break;
        case M.ObjColon:
          if (c !== 0x3a) throw syntax(path, base + i, `expected ":" after "${key}"`);
          mode = M.ObjValue;
          i++;
          break;
        case M.ObjValue:
          if (c === 0x5b && key !== null && streamKeys.has(key)) {
            inMemberArray = true;
            elemIndex = 0;
            mode = M.ArrValueOrEnd;
            i++;
            yield { key, kind: 'begin', index: -1, offset: base + i - 1, bytes: OPEN, text: '[' };
            break;
          }
          if (c === 0x2c || c === 0x5d || c === 0x7d || c === 0x3a) throw syntax(path, base + i, `expected a value for "${key}"`);
          cap.begin(base + i);
          break;
        case M.ObjAfter:
          if (c === 0x2c) mode = M.ObjKey;
          else if (c === 0x7d) mode = M.Done;
          else throw syntax(path, base + i, `expected "," or "}" after "${key}"`);
          i++;
          break;
        case M.Done:
          throw syntax(path, base + i, 'unexpected data after the end of the top-level value');
        default:
          throw syntax(path, base + i, 'unexpected input');
      }
    }
  }
  if (cap.active && cap.scalar) {
    // a scalar that ends with the file (only valid as a whole member value, which then misses its closing brace)
    cap.take();
  }
  if (mode !== M.Done) {
    if (mode === M.Begin) throw new UserError(`${path}: empty file, expected a JSON array or object`);
    throw new UserError(`${path}: not valid JSON: the file ends inside ${cap.active ? `record ${elemIndex}` : 'the top-level value'} (truncated?)`);
  }
  return top;
}

/** One line of a JSONL file. */
export interface JsonlLine {
  /** 0-based index among non-blank lines. */
  index: number;
  /** 1-based line number in the file. */
  line: number;
  /** The line's bytes as in the file, without its newline (a trailing CR is kept; a BOM is not). */
  bytes: Buffer;
  /** The bytes decoded as UTF-8, without BOM or trailing CR. */
  text: string;
}

/** Streams the non-blank lines of a JSONL file. */
export function* scanJsonl(path: string, opts: { onChunk?: (chunk: Buffer) => void; chunkSize?: number } = {}): Generator<JsonlLine> {
  let rest: Buffer[] = [];
  let lineNo = 0;
  let index = 0;
  const emit = (raw: Buffer): JsonlLine | null => {
    lineNo++;
    const b = lineNo === 1 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw;
    let s = b.toString('utf8');
    if (s.endsWith('\r')) s = s.slice(0, -1);
    if (s.trim() === '') return null;
    return { index: index++, line: lineNo, bytes: b, text: s };
  };
  for (const [chunk] of chunks(path, opts.chunkSize)) {
    opts.onChunk?.(chunk);
    let start = 0;
    while (true) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      const whole = rest.length > 0 ? Buffer.concat([...rest, piece]) : piece;
      rest = [];
      const l = emit(whole);
      if (l) yield l;
      start = nl + 1;
    }
    if (start < chunk.length) rest.push(chunk.subarray(start));
  }
  if (rest.length > 0) {
    const l = emit(Buffer.concat(rest));
    if (l) yield l;
  }
}
