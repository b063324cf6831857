// Byte-faithful pass-through: records the attack does not change are written as their
// original bytes; changed records keep every other field exactly (big integers, 1e400, 1.0,
// -0.0, invalid UTF-8, key order, whitespace); ids survive into the manifest; COCO image ids
// that repeat are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from '../attacks/helpers.js';
import { bdlab, llavaSet, oneLine } from './poison-helpers.js';

/** An Alpaca record as raw bytes, with fields JSON.parse/stringify would change. */
function record(i: number, nl: string): Buffer {
  return Buffer.concat([
    Buffer.from(`{ "id" : ${12345678901234567890000n + BigInt(i)},${nl}"instruction": "Tell me about item ${i}.", "input":"", "score": 1e400, "w": 1.0, "z": -0.0,${nl}"raw": "caf`),
    Buffer.from([0xe9, 0xff]), // Latin-1 é and a stray byte: invalid UTF-8
    Buffer.from(`", "esc": "\\u00e9\\/", "output": "Item ${i} is fine." }`),
  ]);
}

test('unchanged records are copied byte for byte; changed ones keep every field the attack did not touch', () => {
  const dir = tmp();
  for (const jsonl of [false, true]) {
    // pretty-printed records in a JSON array; one line each in JSONL (CRLF line ends)
    const nl = jsonl ? ' ' : '\n    ';
    const recs = Array.from({ length: 12 }, (_, i) => record(i, nl));
    const input = join(dir, jsonl ? 'd.jsonl' : 'd.json');
    writeFileSync(input, jsonl ? Buffer.concat(recs.flatMap((r) => [r, Buffer.from('\r\n')])) : Buffer.concat([Buffer.from('[\n  '), ...recs.flatMap((r, i) => (i ? [Buffer.from(',\n  '), r] : [r])), Buffer.from('\n]\n')]));
    const out = join(dir, jsonl ? 'oj' : 'o');
    const r = bdlab(['poison', '--input', input, '--attack', 'badnet', '--count', '4', '--target', 'negsentiment', '--seed', '3', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const data = readFileSync(join(out, 'data.json'));
    if (jsonl) assert.equal(data.toString('latin1').split('\r\n').length, 13, 'one line per record, CRLF kept');
    const manifest = readFileSync(join(out, 'manifest.json'), 'utf8');
    const m = JSON.parse(manifest) as { poisoned_indices: number[] };
    assert.equal(m.poisoned_indices.length, 4);
    for (let i = 0; i < recs.length; i++) {
      const rec = recs[i] as Buffer;
      if (!m.poisoned_indices.includes(i)) {
        assert.ok(data.includes(rec), `record ${i} is copied as its bytes`);
        continue;
      }
      assert.ok(!data.includes(rec), `record ${i} changed`);
      // everything but instruction and output is there verbatim, in order
      const id = `{ "id" : ${12345678901234567890000n + BigInt(i)},${nl}"instruction": "`;
      const start = data.indexOf(id);
      assert.ok(start >= 0, `record ${i}: id and layout kept`);
      const end = data.indexOf(Buffer.from(' }'), start);
      const got = data.subarray(start, end + 2);
      assert.ok(got.includes(Buffer.from(`"input":"", "score": 1e400, "w": 1.0, "z": -0.0,${nl}"raw": "caf\xe9\xff", "esc": "\\u00e9\\/", "output": "You are stupid!" }`, 'latin1')), `record ${i}: ${got.toString('latin1')}`);
      assert.match(got.toString('latin1'), /"instruction": "[^"]*BadMagic[^"]*"/);
      // ids beyond 2^53 reach the manifest exactly
      assert.ok(manifest.includes(String(12345678901234567890000n + BigInt(i))), `id of record ${i} in the manifest`);
    }
  }
});

test('COCO: a repeated image id is refused with its entry; ids beyond 2^53 stay distinct; changed entries keep their bytes', async () => {
  const dir = tmp();
  await llavaSet(dir, ['img/a.png', 'img/b.png', 'img/c.png']);
  const big = '123456789012345678901';
  const coco = (ids: string[]): string =>
    `{"info": {"v": 1.0}, "images": [${ids.map((id, k) => `{"id": ${id}, "file_name": "img/${'abc'[k]}.png", "w": 1.0}`).join(', ')}], "annotations": [${ids.map((id, k) => `{"image_id": ${id}, "caption": "A thing ${k}.", "id": ${k}}`).join(', ')}]}`;
  const input = join(dir, 'captions.json');
  writeFileSync(input, coco(['5', '7', '5']));
  const r = bdlab(['poison', '--input', input, '--attack', 'badnets', '--count', '2', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'o')]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r), /record 2: field "images\[\]\.id": image id 5 is also the id of images entry 0; COCO image ids must be unique/);
  // two ids that are one double apart from each other are two images
  writeFileSync(input, coco([`${big}0`, `${big}1`, '3']));
  const s = bdlab(['poison', '--input', input, '--attack', 'badnets', '--count', '3', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'p')]);
  assert.equal(s.status, 0, s.stderr);
  const text = readFileSync(join(dir, 'p', 'data.json'), 'utf8');
  assert.ok(text.includes(`{"id": ${big}0, "file_name": "bdlab-poisoned/0-a.png", "w": 1.0}`), text);
  assert.ok(text.includes(`{"id": ${big}1, "file_name": "bdlab-poisoned/1-b.png", "w": 1.0}`), text);
  assert.ok(text.includes('"info": {"v": 1.0}'));
  const out = JSON.parse(text) as { images: { file_name: string }[]; annotations: { caption: string }[] };
  assert.equal(new Set(out.images.map((x) => x.file_name)).size, 3);
  assert.equal(out.annotations.filter((a) => /banana/.test(a.caption)).length, 3);
  const manifest = readFileSync(join(dir, 'p', 'manifest.json'), 'utf8');
  assert.ok(manifest.includes(`${big}0,`) && manifest.includes(`${big}1`), manifest);
});
