import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Hash } from 'node:crypto';
import { sha256Hasher } from '../util/hash.js';
import { makeDirs } from './dirs.js';

/**
 * A file written in a stream and made visible atomically: bytes go to a
 * temporary sibling through a small buffer, are hashed on the way (sha256),
 * and the file is renamed over the target on `close()`. Memory stays bounded
 * by the buffer size however large the output.
 */
export class StreamingFile {
  private fd: number;
  /** The temporary sibling the bytes go to until close(). */
  readonly tmp: string;
  private buf: Buffer[] = [];
  private bufLen = 0;
  private readonly hash: Hash = sha256Hasher();
  private closed = false;
  bytes = 0;

  constructor(
    readonly path: string,
    private readonly flushAt = 1 << 20,
  ) {
    makeDirs(dirname(path));
    this.tmp = tmpName(path);
    // 'wx': a fresh file, never one reached through an existing link
    this.fd = openSync(this.tmp, 'wx');
  }

  write(s: string | Uint8Array): void {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s.buffer, s.byteOffset, s.byteLength);
    this.buf.push(b);
    this.bufLen += b.length;
    if (this.bufLen >= this.flushAt) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    const data = this.buf.length === 1 ? (this.buf[0] as Buffer) : Buffer.concat(this.buf);
    this.buf = [];
    this.bufLen = 0;
    this.hash.update(data);
    this.bytes += data.length;
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off);
  }

  /** Flushes, fsyncs, renames over the target and returns the sha256 (hex) of the content. */
  close(): string {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
    // rename replaces the directory entry: a link at the target is replaced, never written through
    renameSync(this.tmp, this.path);
    return this.hash.digest('hex');
  }

  /** Drops the temporary file (after a failure). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.tmp, { force: true });
  }
}

/** The temporary sibling of an output file: `.NAME.PID.N.tmp` (the pattern output folders clean up). */
export function tmpName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${++tmpCounter}.tmp`);
}
let tmpCounter = 0;

/** Matches the names tmpName() makes. */
export const TMP_PATTERN = /^\..+\.\d+\.\d+\.tmp$/;

/** Indents a pretty-printed JSON value by `pad` (JSON strings hold no raw newlines). */
function indent(json: string, pad: string): string {
  return pad + json.replace(/\n/g, '\n' + pad);
}

/** Writes a JSON array element by element: `[\n  {...},\n  {...}\n]\n` (2-space indent, as json.dump(indent=2)). */
export class JsonArrayWriter {
  private n = 0;
  constructor(readonly file: StreamingFile) {}

  static open(path: string): JsonArrayWriter {
    return new JsonArrayWriter(new StreamingFile(path));
  }

  get count(): number {
    return this.n;
  }

  push(value: unknown): void {
    const text = indent(JSON.stringify(value, null, 2), '  ');
    this.file.write(this.n === 0 ? '[\n' + text : ',\n' + text);
    this.n++;
  }

  /** An element from its JSON bytes, written exactly as given. */
  pushRaw(bytes: Uint8Array): void {
    this.file.write(this.n === 0 ? '[\n  ' : ',\n  ');
    this.file.write(bytes);
    this.n++;
  }

  close(): string {
    this.file.write(this.n === 0 ? '[]\n' : '\n]\n');
    return this.file.close();
  }

  abort(): void {
    this.file.abort();
  }
}

/** Writes JSON Lines: one compact JSON value per line. */
export class JsonlWriter {
  private n = 0;
  constructor(readonly file: StreamingFile) {}

  static open(path: string): JsonlWriter {
    return new JsonlWriter(new StreamingFile(path));
  }

  get count(): number {
    return this.n;
  }

  push(value: unknown): void {
    this.file.write(JSON.stringify(value) + '\n');
    this.n++;
  }

  /** A line from its bytes, written exactly as given. */
  pushRaw(bytes: Uint8Array): void {
    this.file.write(bytes);
    this.file.write('\n');
    this.n++;
  }

  close(): string {
    return this.file.close();
  }

  abort(): void {
    this.file.abort();
  }
}

/**
 * Writes a top-level JSON object member by member, where array members may be
 * streamed element by element (COCO annotation files):
 * `{"info": ..., "images": [\n{...},\n{...}\n], ...}`.
 */
export class JsonObjectWriter {
  private members = 0;
  private inArray = false;
  private elems = 0;
  constructor(readonly file: StreamingFile) {
    file.write('{');
  }

  static open(path: string): JsonObjectWriter {
    return new JsonObjectWriter(new StreamingFile(path));
  }

  private key(k: string): void {
    if (this.inArray) throw new Error('JsonObjectWriter: close the array member first');
    this.file.write((this.members === 0 ? '' : ', ') + JSON.stringify(k) + ': ');
    this.members++;
  }

  /** A whole member from its raw JSON bytes (kept byte for byte). */
  rawMember(k: string, json: string | Uint8Array): void {
    this.key(k);
    this.file.write(json);
  }

  member(k: string, value: unknown): void {
    this.rawMember(k, JSON.stringify(value));
  }

  beginArray(k: string): void {
    this.key(k);
    this.file.write('[');
    this.inArray = true;
    this.elems = 0;
  }

  element(value: unknown): void {
    this.rawElement(JSON.stringify(value));
  }

  /** An array element from its JSON bytes, written exactly as given. */
  rawElement(json: string | Uint8Array): void {
    this.file.write(this.elems === 0 ? '\n' : ',\n');
    this.file.write(json);
    this.elems++;
  }

  endArray(): void {
    this.file.write(this.elems === 0 ? ']' : '\n]');
    this.inArray = false;
  }

  close(): string {
    this.file.write('}\n');
    return this.file.close();
  }

  abort(): void {
    this.file.abort();
  }
}
