import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * `mkdir -p` that always ends: Node's recursive mkdir loops forever where a
 * file system answers ENOENT for a folder whose parent exists (/proc, /sys).
 * Creates the missing folders one level at a time and names the one that
 * cannot be made, in words (read-only file system, permission denied, ...).
 */
export function makeDirs(path: string): void {
  const abs = resolve(path);
  const missing: string[] = [];
  let p = abs;
  while (true) {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      st = null;
    }
    if (st) {
      if (!st.isDirectory() && !(st.isSymbolicLink() && isDir(p))) throw new UserError(`${p}: exists and is not a folder`);
      break;
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    const d = missing[i] as string;
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && isDir(d)) continue;
      throw new UserError(`${d}: cannot create the folder: ${fsReason(code, e)}`);
    }
  }
}

/** A folder, or a link to one. */
function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A file-system error code in words. */
export function fsReason(code: string | undefined, e?: unknown): string {
  switch (code) {
    case 'EROFS':
      return 'read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOENT':
      return 'the file system does not allow it here';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EDQUOT':
      return 'disk quota exceeded';
    default:
      return e instanceof Error ? e.message : String(code);
  }
}
