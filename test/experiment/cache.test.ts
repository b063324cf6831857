// The artifact cache: keys from canonical params and input hashes, folders
// that appear only complete (marker last, then a rename), leftovers of killed
// stages removed, one run per folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ArtifactStore, artifactKey, canonicalJson, folderHash, HashMemo, MARKER, RunLock } from '../../src/experiment/cache.js';
import { UserError } from '../../src/util/errors.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'bdlab-cache-'));

test('canonical JSON does not depend on key order, and refuses what JSON cannot hold', () => {
  assert.equal(canonicalJson({ b: [1, { d: 2, c: 'x' }], a: null }), '{"a":null,"b":[1,{"c":"x","d":2}]}');
  assert.equal(canonicalJson({ a: 1, b: undefined }), '{"a":1}');
  assert.throws(() => canonicalJson({ a: NaN }), /non-finite/);
});

test('a key changes with the params, any input hash, the stage version — and nothing else', () => {
  const k = { kind: 'poison', version: 1, params: { rate: 0.1, attack: 'badnet' }, inputs: { data: 'aa' } };
  const key = artifactKey(k);
  assert.match(key, /^[0-9a-f]{20}$/);
  assert.equal(artifactKey({ ...k, params: { attack: 'badnet', rate: 0.1 } }), key, 'key order is irrelevant');
  assert.notEqual(artifactKey({ ...k, params: { ...k.params, rate: 0.2 } }), key);
  assert.notEqual(artifactKey({ ...k, inputs: { data: 'ab' } }), key);
  assert.notEqual(artifactKey({ ...k, inputs: { data: 'aa', images: 'cc' } }), key);
  assert.notEqual(artifactKey({ ...k, version: 2 }), key);
  assert.notEqual(artifactKey({ ...k, kind: 'trigger' }), key);
});

test('file and folder hashes are sha256 of the content; the memo is keyed by inode, so a hard link is not read again', () => {
  const d = tmp();
  mkdirSync(join(d, 'f', 'sub'), { recursive: true });
  writeFileSync(join(d, 'f', 'a.txt'), 'hello');
  writeFileSync(join(d, 'f', 'sub', 'b.txt'), 'world');
  const memo = new HashMemo(join(d, 'memo.json'));
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  assert.equal(memo.path(join(d, 'f', 'a.txt')), sha('hello'));
  assert.equal(memo.path(join(d, 'f')), folderHash({ 'a.txt': sha('hello'), 'sub/b.txt': sha('world') }, null));
  memo.save();
  linkSync(join(d, 'f', 'a.txt'), join(d, 'link.txt'));
  const again = new HashMemo(join(d, 'memo.json'));
  assert.equal(again.file(join(d, 'link.txt')), sha('hello'));
  assert.equal(Object.keys(JSON.parse(readFileSync(join(d, 'memo.json'), 'utf8')) as object).length, 2, 'the link shares its memo entry');
  writeFileSync(join(d, 'f', 'a.txt'), 'changed');
  assert.equal(again.file(join(d, 'f', 'a.txt')), sha('changed'), 'a changed file is hashed again');
});

test('an artifact appears complete or not at all; a failed stage leaves nothing; leftovers are removed', async () => {
  const d = tmp();
  const store = new ArtifactStore(join(d, 'artifacts'));
  const parts = { kind: 'demo', version: 1, params: { x: 1 }, inputs: {}, key: artifactKey({ kind: 'demo', version: 1, params: { x: 1 }, inputs: {} }) };
  let seenDuring: string[] = [];
  const marker = await store.produce(parts, async (dir) => {
    writeFileSync(join(dir, 'out.txt'), 'result');
    seenDuring = readdirSync(join(d, 'artifacts', 'demo'));
    assert.equal(store.lookup('demo', parts.key), null, 'not visible while it runs');
    return { file: 'out.txt' };
  });
  assert.deepEqual(seenDuring, [`.tmp-${parts.key}-${process.pid}`]);
  assert.deepEqual(readdirSync(join(d, 'artifacts', 'demo')), [parts.key]);
  assert.deepEqual(Object.keys(marker.files), ['out.txt']);
  assert.equal(marker.sha256, folderHash(marker.files, { file: 'out.txt' }));
  assert.deepEqual(store.lookup('demo', parts.key)?.output, { file: 'out.txt' });

  const failing = { ...parts, key: 'f'.repeat(20) };
  await assert.rejects(
    store.produce(failing, async (dir) => {
      writeFileSync(join(dir, 'half.txt'), 'half');
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(readdirSync(join(d, 'artifacts', 'demo')), [parts.key], 'no trace of the failed stage');

  mkdirSync(join(d, 'artifacts', 'demo', '.tmp-abc-12345'));
  writeFileSync(join(d, 'artifacts', 'demo', '.tmp-abc-12345', 'x'), 'killed');
  mkdirSync(join(d, 'artifacts', 'demo', 'e'.repeat(20)));
  assert.equal(store.cleanTemporary(), 1);
  assert.equal(store.lookup('demo', 'e'.repeat(20)), null, 'a folder without its marker is not an artifact');
  assert.ok(!existsSync(join(d, 'artifacts', 'demo', parts.key, '.tmp')));
  assert.ok(existsSync(join(d, 'artifacts', 'demo', parts.key, MARKER)));
});

test('one run per folder: a live holder is refused, a dead one is taken over', () => {
  const d = tmp();
  const lock = RunLock.acquire(d);
  assert.throws(() => RunLock.acquire(d), (e: unknown) => e instanceof UserError && /another bdlab run \(pid \d+\) is using this folder/.test(e.message));
  lock.release();
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(d, '.lock'), JSON.stringify({ pid: Number(dead.stdout), host: hostname() }));
  RunLock.acquire(d).release();
  assert.ok(!existsSync(join(d, '.lock')));
});
