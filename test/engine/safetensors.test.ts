// safetensors: round trips for every dtype, metadata, sharded folders, and a
// clear error for every kind of malformed file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/engine/index.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'bdlab-st-'));

test('round trip of every dtype with metadata, bit-exact', () => {
  T.scope(() => {
    const dir = tmp();
    const src = new Map<string, T.Tensor>();
    for (const d of T.DTYPES) {
      const base = T.randn([3, 5], { seed: 1 }).mul(10);
      src.set(`t.${d}`, d === 'bool' ? base.gt(0) : base.to(d));
    }
    src.set('scalar', T.tensor([3.5]).reshape([]));
    src.set('empty', T.zeros([0, 4]));
    const path = join(dir, 'a.safetensors');
    T.saveSafetensors(path, src, { format: 'pt', note: 'hello' });
    const f = T.SafetensorsFile.open(path);
    assert.deepEqual(f.metadata, { format: 'pt', note: 'hello' });
    assert.deepEqual(f.names().sort(), [...src.keys()].sort());
    for (const [k, t] of src) {
      const r = f.read(k);
      assert.equal(r.dtype, t.dtype, k);
      assert.deepEqual(r.shape, t.shape, k);
      assert.deepEqual(r.toBytes(), t.toBytes(), k);
    }
    f.close();
    // the header is 8-byte aligned and the data begins right after it
    const buf = readFileSync(path);
    assert.equal(Number(buf.readBigUInt64LE(0)) % 8, 0);
    // reading with conversion
    const asF32 = T.loadSafetensors(path, { dtype: 'float32' });
    assert.equal(asF32.get('t.bfloat16')?.dtype, 'float32');
  });
});

test('a file written by an independent writer (hand-made bytes) reads back', () => {
  T.scope(() => {
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, __metadata__: { a: 'b' } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const data = Buffer.alloc(8);
    data.writeFloatLE(1.5, 0);
    data.writeFloatLE(-2, 4);
    const path = join(tmp(), 'h.safetensors');
    writeFileSync(path, Buffer.concat([len, header, data]));
    assert.deepEqual(T.loadSafetensors(path).get('w')?.toNumbers(), [1.5, -2]);
  });
});

test('sharded folders: save with an index, load by name', () => {
  T.scope(() => {
    const dir = tmp();
    const m = new Map<string, T.Tensor>();
    for (let i = 0; i < 6; i++) m.set(`layer.${i}.weight`, T.randn([16, 16], { seed: i }));
    T.saveSafetensorsFolder(dir, m, { maxShardBytes: 2 * 16 * 16 * 4 });
    const files = readdirSync(dir).sort();
    assert.ok(files.includes('model.safetensors.index.json'));
    assert.equal(files.filter((f) => /^model-\d{5}-of-00003\.safetensors$/.test(f)).length, 3);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number } };
    assert.equal(index.metadata.total_size, 6 * 16 * 16 * 4);
    const folder = T.SafetensorsFolder.open(dir);
    assert.equal(folder.names().length, 6);
    assert.ok(folder.read('layer.3.weight').equal(m.get('layer.3.weight') as T.Tensor));
    folder.close();
    const one = tmp();
    T.saveSafetensorsFolder(one, m);
    assert.deepEqual(readdirSync(one), ['model.safetensors']);
  });
});

function craft(header: unknown, dataBytes: number, rawHeader?: Buffer): string {
  const h = rawHeader ?? Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const path = join(tmp(), 'bad.safetensors');
  writeFileSync(path, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
  return path;
}

test('malformed files give clear errors', () => {
  const cases: Array<[string, () => string, RegExp]> = [
    ['too short', () => { const p = join(tmp(), 's.safetensors'); writeFileSync(p, Buffer.alloc(3)); return p; }, /too short/],
    ['header longer than file', () => { const p = join(tmp(), 'l.safetensors'); const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n); writeFileSync(p, b); return p; }, /header length 1000 exceeds the file size 16/],
    ['absurd header length', () => { const p = join(tmp(), 'x.safetensors'); const b = Buffer.alloc(16); b.writeBigUInt64LE(2n ** 62n); writeFileSync(p, b); return p; }, /exceeds the 100 MB limit/],
    ['not JSON', () => craft(null, 0, Buffer.from('{not json')), /not valid JSON/],
    ['not an object', () => craft([1, 2], 0), /not a JSON object/],
    ['unknown dtype', () => craft({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'w': unknown dtype "F8"/],
    ['bad shape', () => craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /tensor 'w': shape/],
    ['offsets outside', () => craft({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /lie outside the 8 data bytes/],
    ['reversed offsets', () => craft({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, 8), /data_offsets must be/],
    ['size mismatch', () => craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /needs 12 bytes, data_offsets give 8/],
    ['overlap', () => craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/],
    ['bad metadata', () => craft({ __metadata__: { a: 1 } }, 0), /__metadata__\.a must be a string/],
    ['metadata as an array', () => craft({ __metadata__: ['a'] }, 0), /__metadata__ must be an object/],
    ['dtype named like a built-in', () => craft({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'w': unknown dtype "toString"/],
    ['truncated data', () => { const p = craft({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 16); truncateSync(p, 8 + 60); return p; }, /outside|truncated/],
  ];
  for (const [name, make, re] of cases) {
    const p = make();
    assert.throws(() => T.loadSafetensors(p), (e: unknown) => {
      assert.ok(e instanceof T.SafetensorsError, `${name}: ${String(e)}`);
      assert.match(e.message, re, name);
      assert.ok(e.message.startsWith(p), `${name}: the message names the file`);
      return true;
    });
  }
  assert.throws(() => T.SafetensorsFolder.open(tmp()), /no model\.safetensors/);
  // an index whose weight_map names the folder itself, or a path outside it
  for (const file of ['.', '', '../x.safetensors', 'sub/x.safetensors']) {
    const dir = tmp();
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: file } }));
    assert.throws(() => T.SafetensorsFolder.open(dir), /weight_map\['w'\] must be a file name in the same folder/, JSON.stringify(file));
  }
});

test('an empty tensor may sit anywhere: it occupies no bytes', () => {
  const p = craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, e: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] } }, 8);
  const m = T.loadSafetensors(p);
  assert.deepEqual(m.get('e')?.shape, [0, 3]);
  assert.deepEqual(m.get('a')?.shape, [2]);
});
