import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The temporary sibling (default `.NAME.PID.TIME.tmp`). */
  tmp?: string;
  /** fsync before the rename (default true): the file survives a power cut, not only a crash. */
  sync?: boolean;
  /** Fail if the temporary sibling exists instead of truncating it. */
  exclusive?: boolean;
}

/** Writes every byte of `data` at the file position of `fd`. */
export function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * The one atomic write: `write(fd)` fills a temporary sibling, which is then
 * renamed over `path`, so a crash never leaves a half-written file behind;
 * on failure the sibling is removed and the target is untouched.
 */
export function writeAtomicWith(path: string, write: (fd: number) => void, o: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = o.tmp ?? join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, o.exclusive ? 'wx' : 'w');
  let open = true;
  try {
    write(fd);
    if (o.sync ?? true) fsyncSync(fd);
    open = false;
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes a file atomically (temporary sibling, fsync, rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeAtomicWith(path, (fd) => writeAll(fd, data));
}

/** Writes JSON atomically, pretty-printed with a trailing newline. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
