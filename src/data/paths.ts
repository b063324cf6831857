import { closeSync, existsSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { sniffFormat } from './image-io.js';
import { DataError } from './errors.js';
import { isAbsolute, relative, resolve, sep, posix, win32 } from 'node:path';

/**
 * Image paths in a dataset are relative to a dataset root and may not leave
 * it: absolute paths, drive letters, `..` segments that climb out, NUL bytes
 * and symbolic links pointing outside the root are refused.
 */
export class ImageRoot {
  readonly root: string;
  private readonly real: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.real = existsSync(this.root) ? realpathSync.native(this.root) : this.root;
  }

  /**
   * Resolves `rel` under the root; returns the absolute path or a reason why
   * it is refused (the caller names file, record and field).
   */
  check(rel: string): { path: string; real: string | null } | { refused: string } {
    if (rel.length === 0) return { refused: 'empty image path' };
    if (rel.includes('\0')) return { refused: 'image path contains a NUL byte' };
    if (isAbsolute(rel) || posix.isAbsolute(rel) || win32.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) {
      return { refused: `absolute image path "${rel}" is not allowed; paths are relative to the image root ${this.root}` };
    }
    const abs = resolve(this.root, rel);
    const r = relative(this.root, abs);
    if (r === '' || r === '..' || r.startsWith('..' + sep) || isAbsolute(r)) {
      return { refused: `image path "${rel}" escapes the image root ${this.root}` };
    }
    let real: string | null = null;
    try {
      real = realpathSync.native(abs);
    } catch {
      real = null; // missing: reported by the caller when it matters
    }
    if (real !== null) {
      const rr = relative(this.real, real);
      if (rr === '..' || rr.startsWith('..' + sep) || isAbsolute(rr)) {
        return { refused: `image path "${rel}" is a link that leads outside the image root ${this.root}` };
      }
    }
    return { path: abs, real };
  }
}

/** Checks a relative output path (no climbing, no absolute) before joining it under an output folder. */
export function safeRelative(rel: string): boolean {
  if (rel.length === 0 || rel.includes('\0') || isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) return false;
  const parts = rel.split(/[\\/]+/);
  return !parts.some((p) => p === '..');
}

/**
 * Checks a sample's image path (inside the root, an existing file); returns
 * the reason it is refused, naming file, record and field, or null.
 */
export function imageProblem(root: ImageRoot, image: string | undefined, file: string, index: number, field: string, line?: number): DataError | null {
  if (image === undefined) return null;
  const r = root.check(image);
  if ('refused' in r) return new DataError(file, index, field, r.refused, line);
  let st;
  try {
    st = statSync(r.path);
  } catch {
    return new DataError(file, index, field, `image file not found: ${r.path}`, line);
  }
  // stat before open: opening a FIFO would block
  if (!st.isFile()) return new DataError(file, index, field, `not a regular file: ${r.path}`, line);
  // The header, so a file that is no image is refused here (stop or skip) rather
  // than halfway through the rewrite.
  if (!sniffFormat(readHead(r.path))) return new DataError(file, index, field, `not a PNG or JPEG file: ${r.path}`, line);
  return null;
}

function readHead(path: string): Uint8Array {
  const buf = new Uint8Array(16);
  const fd = openSync(path, 'r');
  try {
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
