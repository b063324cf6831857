import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { probeFiles, sniffFormat, type FileKind, type ImageFormat } from './image-io.js';
import { DataError } from './errors.js';
import { basename, dirname, isAbsolute, join, relative, resolve, sep, posix, win32 } from 'node:path';

const MAX_KNOWN = 1 << 18;

/**
 * Image paths in a dataset are relative to a dataset root and may not leave
 * it: absolute paths, drive letters, `..` segments that climb out, NUL bytes
 * and symbolic links pointing outside the root are refused.
 */
export class ImageRoot {
  readonly root: string;
  private readonly real: string;
  /** real paths of the folders images sit in: one lstat per image instead of a readlink per path component */
  private readonly realDirs = new Map<string, string | null>();
  /** accepted files by relative path: a rewrite looks at each file once, in its scan (bounded; beyond it, again) */
  private readonly known = new Map<string, { path: string; real: string }>();

  constructor(root: string) {
    this.root = resolve(root);
    this.real = existsSync(this.root) ? realpathSync.native(this.root) : this.root;
  }

  /**
   * Resolves `rel` under the root; returns the absolute path or a reason why
   * it is refused (the caller names file, record and field).
   */
  check(rel: string): { path: string; real: string | null } | { refused: string } {
    const known = this.known.get(rel);
    if (known) return known;
    const l = this.locate(rel);
    if ('refused' in l) return l;
    if (l.realDir === null) return { path: l.path, real: null };
    const st = lstatSync(l.path, { throwIfNoEntry: false });
    if (!st) return { path: l.path, real: null }; // missing: reported by the caller when it matters
    return this.admit(l.path, st.isSymbolicLink() ? realPathOrNull(l.path) : join(l.realDir, basename(l.path)), rel);
  }

  /** The checks that need no look at the file itself: its absolute path and the real path of its folder (null when that is missing). */
  locate(rel: string): { path: string; realDir: string | null } | { refused: string } {
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
    const dir = dirname(abs);
    let realDir = this.realDirs.get(dir);
    if (realDir === undefined) {
      realDir = realPathOrNull(dir);
      if (this.realDirs.size >= 4096) this.realDirs.clear();
      this.realDirs.set(dir, realDir);
    }
    return { path: abs, realDir };
  }

  /** An existing file's real path, refused when it lies outside the root (a link, or a linked folder). */
  admit(path: string, real: string | null, rel: string): { path: string; real: string | null } | { refused: string } {
    if (real === null) return { path, real };
    const rr = relative(this.real, real);
    if (rr === '..' || rr.startsWith('..' + sep) || isAbsolute(rr)) {
      return { refused: `image path "${rel}" is a link that leads outside the image root ${this.root}` };
    }
    const accepted = { path, real };
    if (this.known.size < MAX_KNOWN) this.known.set(rel, accepted);
    return accepted;
  }
}

function realPathOrNull(p: string): string | null {
  try {
    return realpathSync.native(p);
  } catch {
    return null;
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
  const r = checkImage(root, image, file, index, field, line);
  return 'error' in r ? r.error : null;
}

/** The same, returning the resolved paths of an accepted image. */
export function checkImage(root: ImageRoot, image: string, file: string, index: number, field: string, line?: number): { error: DataError } | { path: string; real: string | null } {
  const r = root.check(image);
  if ('refused' in r) return { error: new DataError(file, index, field, r.refused, line) };
  // The header, so a file that is no image is refused here (stop or skip) rather
  // than halfway through the rewrite.
  const head = readHead(r.path);
  const problem = fileProblem(head.kind, head.format, r.path);
  return problem === null ? r : { error: new DataError(file, index, field, problem, line) };
}

/** Why a file looked at (readHead, or probeFiles for many) is no image, or null: one wording for both checks. */
function fileProblem(kind: Exclude<FileKind, 'link'>, format: ImageFormat | null, path: string): string | null {
  if (kind === 'missing') return `image file not found: ${path}`;
  if (kind === 'not-regular') return `not a regular file: ${path}`;
  return format === null ? `not a PNG or JPEG file: ${path}` : null;
}

/** One record's image path, for checkImages. */
export interface ImageRef {
  image: string;
  index: number;
  line?: number;
}

/**
 * checkImage for many records at once, with the same answers: the look at
 * each file (kind and first bytes) runs on the thread pool in one job
 * (probeFiles), so a caller can keep several batches in flight while it reads
 * on. Symbolic links, and every path when the codec is not built, take
 * checkImage itself.
 */
export async function checkImages(root: ImageRoot, refs: readonly ImageRef[], file: string, field: string): Promise<({ error: DataError } | { path: string; real: string | null })[]> {
  const located = refs.map((r) => root.locate(r.image));
  const probed: string[] = [];
  for (const l of located) if (!('refused' in l) && l.realDir !== null) probed.push(l.path);
  const heads = await probeFiles(probed);
  if (heads === null) return refs.map((r) => checkImage(root, r.image, file, r.index, field, r.line));
  let next = 0;
  return refs.map((r, k) => {
    const l = located[k]!;
    const fail = (why: string): { error: DataError } => ({ error: new DataError(file, r.index, field, why, r.line) });
    if ('refused' in l) return fail(l.refused);
    if (l.realDir === null) return fail(fileProblem('missing', null, l.path)!);
    const h = next++;
    const kind = heads.kind(h);
    if (kind === 'link') return checkImage(root, r.image, file, r.index, field, r.line);
    if (kind === 'missing') return fail(fileProblem(kind, null, l.path)!);
    // inside the root first, then what the file is: the order of check() and checkImage
    const admitted = root.admit(l.path, join(l.realDir, basename(l.path)), r.image);
    if ('refused' in admitted) return fail(admitted.refused);
    const problem = fileProblem(kind, heads.format(h), l.path);
    return problem === null ? admitted : fail(problem);
  });
}

/** What a file is and the image format its first bytes announce: opened non-blocking (a FIFO would block a plain open), then checked with fstat. */
function readHead(path: string): { kind: Exclude<FileKind, 'link'>; format: ImageFormat | null } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return { kind: 'missing', format: null };
  }
  try {
    if (!fstatSync(fd).isFile()) return { kind: 'not-regular', format: null };
    const buf = new Uint8Array(16);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return { kind: 'file', format: sniffFormat(buf, 0, n) };
  } finally {
    closeSync(fd);
  }
}
