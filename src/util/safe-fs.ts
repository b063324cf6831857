/**
 * File access for paths a user or a downloaded folder names: reads take
 * regular files only (a FIFO, a device such as /dev/zero or a folder is
 * refused by kind, without blocking on it) up to a size limit checked before
 * a byte is read; outputs are refused on kernel pseudo file systems, over
 * anything but a regular file, and in folders that cannot be written, with
 * the reason in words.
 */
import { accessSync, closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { UserError } from './errors.js';

/** What a non-regular file is, in words. */
export function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a plain file';
}

const FS_WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ELOOP: 'too many levels of symbolic links',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
  ENXIO: 'no such device',
  EEXIST: 'already exists',
};

/** A file the system would not open or read; `reason` is the part after the path. */
export class FileAccessError extends UserError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** A file-system error in words, naming the path. */
export function fsError(path: string, e: unknown): UserError {
  if (e instanceof UserError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const words = (code && FS_WORDS[code]) ?? (e as Error).message.split('\n')[0] ?? String(e);
  return new FileAccessError(path, words);
}

/** Bytes in words: 1.5 GB, 64 MB, 120 kB, 12 bytes. */
function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${+(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${+(n / 1024 ** 2).toFixed(1)} MB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} kB`;
  return `${n} bytes`;
}

/**
 * Opens a regular file for reading. O_NONBLOCK makes opening a FIFO return at
 * once (it changes nothing for regular files), so the kind check that follows
 * never waits for a writer.
 */
export function openRegularFile(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw fsError(path, e);
  }
  let st: Stats;
  try {
    st = fstatSync(fd);
  } catch (e) {
    closeSync(fd);
    throw fsError(path, e);
  }
  if (!st.isFile()) {
    closeSync(fd);
    throw new UserError(`${path}: not a regular file (${kindOf(st)})`);
  }
  return { fd, size: st.size };
}

/** Reads `length` bytes at `position` of an open file, or fewer at its end. */
export function readAt(fd: number, buf: Buffer, length: number, position: number, path: string): number {
  let got = 0;
  try {
    while (got < length) {
      const r = readSync(fd, buf, got, length - got, position + got);
      if (r === 0) break;
      got += r;
    }
  } catch (e) {
    throw fsError(path, e);
  }
  return got;
}

/** A regular file's bytes, refused past `maxBytes` before reading; `what` names the limit. */
export function readRegularFile(path: string, maxBytes: number, what: string): Buffer {
  const { fd, size } = openRegularFile(path);
  try {
    if (size > maxBytes) throw new UserError(`${path}: ${formatBytes(size)}, larger than the ${formatBytes(maxBytes)} limit for ${what}`);
    const buf = Buffer.allocUnsafe(size);
    const got = readAt(fd, buf, size, 0, path);
    return got === size ? buf : buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether bytes are not text: a NUL byte or invalid UTF-8 in the first 64 kB
 * (a sequence cut at the sample's end is not counted).
 */
function looksBinary(buf: Buffer): boolean {
  const n = Math.min(buf.length, 65_536);
  if (buf.subarray(0, n).includes(0)) return true;
  let end = n;
  if (n < buf.length) {
    // step back over a multi-byte sequence the sample cuts
    let back = 0;
    while (back < 3 && end > 0 && ((buf[end - 1] as number) & 0xc0) === 0x80) {
      end--;
      back++;
    }
    if (end > 0 && (buf[end - 1] as number) >= 0xc0) end--;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, end));
    return false;
  } catch {
    return true;
  }
}

/** A regular text file (UTF-8, BOM dropped), refused when binary: "X: binary file, expected <expected>". */
export function readTextFile(path: string, maxBytes: number, what: string, expected = 'JSON'): string {
  const buf = readRegularFile(path, maxBytes, what);
  if (looksBinary(buf)) throw new UserError(`${path}: binary file, expected ${expected}`);
  const s = buf.toString('utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** The real path of `p`, resolving the part that exists (symbolic links included); the rest is appended. */
export function realPathOf(p: string): string {
  const abs = resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return join(realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return abs;
      rest.push(basename(cur));
      cur = parent;
    }
  }
}

/** Whether `inner` is `outer` or lies inside it, by real paths. */
export function isInside(inner: string, outer: string): boolean {
  const a = realPathOf(inner);
  const b = realPathOf(outer);
  return a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
}

/** Whether two paths name the same file (by real path, or by device and inode when both exist). */
export function samePath(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return realPathOf(a) === realPathOf(b);
  }
}

const PSEUDO_FILE_SYSTEMS = ['/proc', '/sys', '/dev'];

/** The nearest existing folder at or above `p`. */
function nearestExisting(p: string): { path: string; st: Stats } {
  let cur = resolve(p);
  for (;;) {
    try {
      return { path: cur, st: statSync(cur) };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw fsError(cur, e);
      const parent = dirname(cur);
      if (parent === cur) throw fsError(cur, e);
      cur = parent;
    }
  }
}

/** Refuses writing under `dir` when it lies on a pseudo file system, under a file, or where nothing can be written. */
function checkWritableFolder(target: string, dir: string): void {
  const { path: existing, st } = nearestExisting(dir);
  if (!st.isDirectory()) throw new UserError(`${target}: ${existing} is ${kindOf(st) === 'not a plain file' ? 'a file' : kindOf(st)}, not a folder`);
  const real = realPathOf(existing);
  const pseudo = PSEUDO_FILE_SYSTEMS.find((r) => real === r || real.startsWith(`${r}/`));
  if (pseudo) throw new UserError(`${target}: ${pseudo} is a kernel pseudo file system, not a place to write files`);
  try {
    accessSync(existing, constants.W_OK);
  } catch (e) {
    throw new UserError(`${target}: cannot write in ${existing}: ${fsError(existing, e).message.slice(existing.length + 2)}`);
  }
}

/** Checks a file about to be written: absent or a regular file, in a folder that can be written. */
export function checkOutputFile(path: string): void {
  const abs = resolve(path);
  let st: Stats | null = null;
  try {
    st = statSync(abs);
  } catch {
    st = null;
  }
  if (st && !st.isFile()) throw new UserError(`${path}: not a regular file (${kindOf(st)}); give a file to write`);
  checkWritableFolder(path, dirname(abs));
}

/** Checks a folder about to be written: absent or a folder, somewhere that can be written. */
export function checkOutputFolder(path: string): void {
  const abs = resolve(path);
  let st: Stats | null = null;
  try {
    st = statSync(abs);
  } catch {
    st = null;
  }
  if (st && !st.isDirectory()) throw new UserError(`${path}: exists and is not a folder (${st.isFile() ? 'a file' : kindOf(st)})`);
  checkWritableFolder(path, abs);
}
