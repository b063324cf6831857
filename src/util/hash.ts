// SHA-256 of bytes, text and files (hex), the one way every record names what
// it read or wrote. Files are hashed in chunks, so size does not matter.
import type { Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

// node:crypto is loaded when a hash is first taken (about 10 ms of start-up
// otherwise): most commands never hash, and those that read through this
// module's importers (eval/io.ts) should not pay for it.
let crypto: typeof import('node:crypto') | undefined;
function createSha256(): Hash {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha256');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createSha256().update(data).digest('hex');
}

export function sha256File(path: string): string {
  const h = createSha256();
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
