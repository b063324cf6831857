// Hostile weight files: huge or deeply nested headers, FIFOs and devices as
// files or shards, broken index files, folders as shards, read-only mounts.
// Each gives one line naming the file within seconds and under 1 GB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertRefused, bdlabCapped, mkfifo, tempDir } from './harness.js';
import { baseFolders, variant } from './models.js';

const { llama } = baseFolders();
const inspect = (dir: string): ReturnType<typeof bdlabCapped> => bdlabCapped(['inspect', '--model', dir, '--ids', '1,2,3', '--json']);

/** A folder whose model.safetensors is replaced by `bytes`. */
function withWeights(tag: string, bytes: Buffer): string {
  const dir = variant(llama, tag);
  writeFileSync(join(dir, 'model.safetensors'), bytes);
  return dir;
}

function header(len: number, body: Buffer): Buffer {
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(len));
  return Buffer.concat([n, body]);
}

test('a 95 MB safetensors header of nested [ is refused before parsing', async () => {
  const body = Buffer.alloc(95_000_000, '[');
  assertRefused(await inspect(withWeights('nested', header(body.length, body))), /model\.safetensors: header is not a JSON object/);
  Buffer.from('{"t":{"shape":').copy(body);
  assertRefused(await inspect(withWeights('nested-entry', header(body.length, body))), /model\.safetensors: header nests deeper than the format allows/);
});

test('a FIFO as model.safetensors is refused, not waited on', async (t) => {
  const dir = variant(llama, 'fifo');
  rmSync(join(dir, 'model.safetensors'));
  if (!mkfifo(join(dir, 'model.safetensors'))) return t.skip('mkfifo is not available');
  assertRefused(await inspect(dir), /model\.safetensors: not a regular file \(a FIFO/);
});

test('/dev/zero as a weight file is refused', async () => {
  const dir = variant(llama, 'zero');
  rmSync(join(dir, 'model.safetensors'));
  symlinkSync('/dev/zero', join(dir, 'model.safetensors'));
  assertRefused(await inspect(dir), /model\.safetensors: not a regular file \(a character device/);
});

/** A folder with the weights moved into one shard listed by an index. */
function sharded(tag: string, weightMap: (names: string[]) => unknown, shardName = 'model-00001-of-00001.safetensors'): string {
  const dir = variant(llama, tag);
  const st = readFileSync(join(dir, 'model.safetensors'));
  const len = Number(st.readBigUInt64LE(0));
  const names = Object.keys(JSON.parse(st.subarray(8, 8 + len).toString()) as object).filter((n) => n !== '__metadata__');
  renameSync(join(dir, 'model.safetensors'), join(dir, shardName));
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(weightMap(names)));
  return dir;
}

test('a FIFO as a shard is refused, not waited on', async (t) => {
  const dir = sharded('fifo-shard', (names) => ({ weight_map: Object.fromEntries(names.map((n, i) => [n, i === 0 ? 'pipe.safetensors' : 'model-00001-of-00001.safetensors'])) }));
  if (!mkfifo(join(dir, 'pipe.safetensors'))) return t.skip('mkfifo is not available');
  assertRefused(await inspect(dir), /pipe\.safetensors: not a regular file/);
});

test('a folder as a shard is named with its path', async () => {
  const dir = sharded('dir-shard', (names) => ({ weight_map: Object.fromEntries(names.map((n, i) => [n, i === 0 ? 'sub.safetensors' : 'model-00001-of-00001.safetensors'])) }));
  mkdirSync(join(dir, 'sub.safetensors'));
  assertRefused(await inspect(dir), /sub\.safetensors: not a regular file \(a folder\)/);
});

test('null in index.json is named', async () => {
  const whole = sharded('null-index', () => null);
  assertRefused(await inspect(whole), /model\.safetensors\.index\.json: expected a JSON object/);
  const map = sharded('null-map', () => ({ weight_map: null }));
  assertRefused(await inspect(map), /model\.safetensors\.index\.json: .*weight_map/);
  const entry = sharded('null-entry', (names) => ({ weight_map: Object.fromEntries(names.map((n, i) => [n, i === 0 ? null : 'model-00001-of-00001.safetensors'])) }));
  assertRefused(await inspect(entry), /model\.safetensors\.index\.json: weight_map\['[^']+'\] must be a file name/);
});

test('a read-only mount as output is said in words', async (t) => {
  const ro = join(tempDir('ro'), 'mnt');
  mkdirSync(ro);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro], { stdio: 'ignore' });
  } catch {
    return t.skip('cannot mount a read-only file system here (needs root)');
  }
  try {
    const r = await bdlabCapped(['model', 'new', '--out', join(ro, 'sub', 'm')]);
    assertRefused(r, /read-only file system/);
    assert.doesNotMatch(r.stderr, /no such file/);
  } finally {
    execFileSync('umount', [ro], { stdio: 'ignore' });
  }
});
