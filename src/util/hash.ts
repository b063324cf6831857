// SHA-256 of bytes, text and files (hex), the one way every record names what
// it read or wrote. Files are hashed in chunks, so size does not matter;
// sha256Hasher() is for digests fed piece by piece.
import type { Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

// node:crypto is loaded when a hash is first taken (about 10 ms of start-up
// otherwise): most commands never hash, and those that read through this
// module's importers (eval/io.ts) should not pay for it.
let crypto: typeof import('node:crypto') | undefined;

/** An incremental SHA-256 (node:crypto's Hash). */
export function sha256Hasher(): Hash {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha256');
}

export function sha256Hex(data: string | Uint8Array): string {
  return sha256Hasher().update(data).digest('hex');
}

export function sha256File(path: string): string {
  const h = sha256Hasher();
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * One digest for many records' hashes: SHA-256 of "index\tsha256\n" lines in
 * index order (a manifest's `images` entry).
 */
export function sha256OfIndexed(shas: ReadonlyMap<number, string>): string {
  const h = sha256Hasher();
  for (const i of [...shas.keys()].sort((a, b) => a - b)) h.update(`${i}\t${shas.get(i)}\n`);
  return h.digest('hex');
}
