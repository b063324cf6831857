import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { alpacaSchema, detectFormat, llavaSchema, splitImageToken } from '../../src/data/formats.js';
import { readDataset, rewriteDataset } from '../../src/data/dataset.js';
import { ImageRoot, checkImage, checkImages, safeRelative } from '../../src/data/paths.js';
import { DataError } from '../../src/data/errors.js';
import { editJson } from '../../src/data/json-edit.js';
import { StreamingFile } from '../../src/data/writer.js';
import type { JsonObject, Sample } from '../../src/data/sample.js';
import { tmp } from '../attacks/helpers.js';
import { BACKDOORLLM as BDL, skipWithoutBackdoorLLM as skip } from '../shared-data.js';


test('detectFormat: alpaca, llava, coco, coco-results, jsonl', () => {
  const d = tmp();
  const w = (name: string, v: unknown, jsonl = false): string => {
    const p = join(d, name);
    writeFileSync(p, jsonl ? (v as unknown[]).map((x) => JSON.stringify(x)).join('\n') : JSON.stringify(v));
    return p;
  };
  assert.equal(detectFormat(w('a.json', [{ instruction: 'x', input: '', output: 'y' }])), 'alpaca');
  assert.equal(detectFormat(w('l.json', [{ id: '1', image: 'a.jpg', conversations: [] }])), 'llava');
  assert.equal(detectFormat(w('c.json', { info: {}, images: [], annotations: [] })), 'coco');
  assert.equal(detectFormat(w('r.json', [{ image_id: 1, caption: 'x' }])), 'coco-results');
  assert.equal(detectFormat(w('a.jsonl', [{ instruction: 'x', output: 'y' }], true)), 'alpaca-jsonl');
  assert.equal(detectFormat(w('l.jsonl', [{ conversations: [] }], true)), 'llava-jsonl');
  assert.throws(() => detectFormat(w('u.json', [{ foo: 1 }])), /cannot detect the format.*give --format/);
});

test('the real BackdoorLLM sets read as Alpaca records without errors', { skip }, () => {
  const f = `${BDL}/poison_data/negsentiment/badnet/backdoor500_negsentiment_badnet.json`;
  assert.equal(detectFormat(f), 'alpaca');
  const items = [...readDataset(f, 'alpaca')];
  assert.equal(items.length, 500);
  assert.ok(items.every((i) => i.error === null && i.sample?.output === 'You are stupid!'));
});

test('alpaca and llava records round-trip: other fields, key order and the <image> token survive', () => {
  const rec = { id: 'q1', instruction: 'Name a fruit.', input: '', output: 'Apple', system: 'be nice', history: [] };
  const s = alpacaSchema.toSample(rec, 0, 'f');
  const bytes = Buffer.from(JSON.stringify(rec));
  const edited = (schema: typeof alpacaSchema, r: object, before: Sample, after: Sample): unknown => JSON.parse(editJson(Buffer.from(JSON.stringify(r)), schema.edits(r as JsonObject, before, after)).toString());
  assert.deepEqual(alpacaSchema.edits(rec, s, s), []);
  assert.ok(editJson(bytes, []).equals(bytes));
  assert.deepEqual(Object.keys(edited(alpacaSchema, rec, s, { ...s, instruction: 'X' }) as object), Object.keys(rec));
  assert.equal((edited(alpacaSchema, rec, s, { ...s, instruction: 'X' }) as typeof rec).instruction, 'X');
  assert.equal(s.id, 'q1');
  const li = {
    id: 7,
    image: 'coco/1.jpg',
    conversations: [
      { from: 'human', value: '<image>\nWhat is this?' },
      { from: 'gpt', value: 'A cat.' },
      { from: 'human', value: 'Color?' },
      { from: 'gpt', value: 'Black.' },
    ],
  };
  const ls = llavaSchema.toSample(li, 3, 'f');
  assert.equal(ls.instruction, 'What is this?');
  assert.equal(ls.output, 'A cat.');
  assert.equal(ls.image, 'coco/1.jpg');
  const back = edited(llavaSchema, li, ls, { ...ls, instruction: 'consider What is this?', output: 'A banana.' }) as typeof li;
  assert.equal(back.conversations[0]?.value, '<image>\nconsider What is this?');
  assert.equal(back.conversations[1]?.value, 'A banana.');
  assert.deepEqual(back.conversations.slice(2), li.conversations.slice(2));
  assert.deepEqual(splitImageToken('Q?\n<image>'), { prefix: '', text: 'Q?', suffix: '\n<image>' });
});

test('malformed records are reported with file, record index and field', () => {
  const d = tmp();
  const f = join(d, 'bad.json');
  writeFileSync(f, JSON.stringify([{ instruction: 'ok', output: 'ok' }, { instruction: 'x', output: 3 }, { output: 'y' }, 'str', { instruction: 'a', input: 5, output: 'b' }]));
  const items = [...readDataset(f, 'alpaca')];
  const msgs = items.map((i) => i.error?.message ?? 'ok');
  assert.deepEqual(msgs, [
    'ok',
    `${f}: record 1: field "output": expected a string, got number`,
    `${f}: record 2: field "instruction": missing`,
    `${f}: record 3: expected a JSON object, got string`,
    `${f}: record 4: field "input": expected a string, got number`,
  ]);
  const l = join(d, 'bad.jsonl');
  writeFileSync(l, '{"instruction":"a","output":"b"}\n\n{"instruction": "a", "output": \n');
  const li = [...readDataset(l, 'alpaca-jsonl')];
  assert.match(li[1]?.error?.message ?? '', /bad\.jsonl: record 1 \(line 3\): not valid JSON/);
  const lv = join(d, 'bad-llava.json');
  writeFileSync(lv, JSON.stringify([{ id: 1, conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 2 }] }]));
  assert.equal([...readDataset(lv, 'llava')][0]?.error?.message, `${lv}: record 0: field "conversations[1].value": expected a string, got number`);
  assert.ok(items[1]?.error instanceof DataError);
});

test('image paths may not leave the image root', () => {
  const d = tmp();
  mkdirSync(join(d, 'root', 'sub'), { recursive: true });
  writeFileSync(join(d, 'root', 'sub', 'a.png'), 'x');
  writeFileSync(join(d, 'secret.png'), 'x');
  symlinkSync(join(d, 'secret.png'), join(d, 'root', 'link.png'));
  const root = new ImageRoot(join(d, 'root'));
  assert.ok('path' in root.check('sub/a.png'));
  assert.ok('path' in root.check('sub/../sub/a.png'));
  for (const bad of ['../secret.png', 'sub/../../secret.png', '/etc/passwd', 'C:\\x.png', '..', '', 'a\0b']) {
    const r = root.check(bad);
    assert.ok('refused' in r, `should refuse ${JSON.stringify(bad)}`);
  }
  const viaLink = root.check('link.png');
  assert.ok('refused' in viaLink && /link that leads outside/.test(viaLink.refused));
  const esc = root.check('../secret.png');
  assert.ok('refused' in esc && /escapes the image root/.test(esc.refused));
  assert.equal(safeRelative('a/b.png'), true);
  assert.equal(safeRelative('a/../../b.png'), false);
});

test('image files checked in a batch on the thread pool get the same answers as one by one', async () => {
  const d = tmp();
  const r = join(d, 'root');
  mkdirSync(join(r, 'sub', 'dir.jpg'), { recursive: true });
  mkdirSync(join(d, 'elsewhere'));
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]);
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  writeFileSync(join(r, 'a.jpg'), jpeg);
  writeFileSync(join(r, 'sub', 'b.png'), png);
  writeFileSync(join(r, 'text.jpg'), 'not an image');
  writeFileSync(join(r, 'empty.png'), '');
  writeFileSync(join(d, 'secret.jpg'), jpeg);
  writeFileSync(join(d, 'elsewhere', 'c.jpg'), jpeg);
  symlinkSync(join(r, 'a.jpg'), join(r, 'inside-link.jpg'));
  symlinkSync(join(d, 'secret.jpg'), join(r, 'outside-link.jpg'));
  symlinkSync(join(d, 'elsewhere'), join(r, 'linked-folder'));
  symlinkSync(join(r, 'nothing.jpg'), join(r, 'dangling.jpg'));
  const images = ['a.jpg', 'sub/b.png', 'sub/../a.jpg', 'text.jpg', 'empty.png', 'missing.jpg', 'no-folder/x.jpg', 'sub/dir.jpg', 'inside-link.jpg', 'outside-link.jpg', 'linked-folder/c.jpg', 'linked-folder/none.jpg', 'dangling.jpg', '../secret.jpg', '/etc/passwd', 'a\0b', ''];
  if (spawnSync('mkfifo', [join(r, 'pipe.jpg')]).status === 0) images.push('pipe.jpg'); // a plain open of a FIFO would block
  const answer = (x: ReturnType<typeof checkImage>): string | { path: string; real: string | null } => ('error' in x ? x.error.message : x);
  const refs = images.map((image, index) => ({ image, index, line: index + 2 }));
  const batch = await checkImages(new ImageRoot(r), refs, 'data.json', 'image');
  const single = images.map((image, index) => checkImage(new ImageRoot(r), image, 'data.json', index, 'image', index + 2));
  assert.deepEqual(batch.map(answer), single.map(answer));
  // and the answers are the ones expected, not merely equal
  const byImage = new Map(images.map((im, k) => [im, answer(batch[k]!)]));
  assert.deepEqual(byImage.get('a.jpg'), { path: join(r, 'a.jpg'), real: join(r, 'a.jpg') });
  assert.deepEqual(byImage.get('inside-link.jpg'), { path: join(r, 'inside-link.jpg'), real: join(r, 'a.jpg') });
  for (const [im, why] of [['text.jpg', /not a PNG or JPEG file/], ['empty.png', /not a PNG or JPEG file/], ['missing.jpg', /image file not found/], ['no-folder/x.jpg', /image file not found/], ['sub/dir.jpg', /not a regular file/], ['outside-link.jpg', /link that leads outside/], ['linked-folder/c.jpg', /link that leads outside/], ['dangling.jpg', /image file not found/], ['../secret.jpg', /escapes the image root/], ['pipe.jpg', /not a regular file/]] as const) {
    if (byImage.has(im)) assert.match(String(byImage.get(im)), why, im);
  }
});

test('COCO caption files: one sample per image with its captions; rewriting changes only what changed', async () => {
  const d = tmp();
  const f = join(d, 'captions.json');
  const coco = {
    info: { description: 'test' },
    annotations: [
      { id: 10, image_id: 2, caption: 'a dog' },
      { id: 11, image_id: 1, caption: 'a cat' },
      { id: 12, image_id: 2, caption: 'a brown dog' },
    ],
    images: [
      { id: 1, file_name: 'x/1.jpg', height: 4 },
      { id: 2, file_name: 'x/2.jpg', height: 4 },
    ],
  };
  writeFileSync(f, JSON.stringify(coco));
  const items = [...readDataset(f, 'coco')];
  assert.deepEqual(
    items.map((i) => [i.sample?.id, i.sample?.image, i.sample?.captions]),
    [
      [1, 'x/1.jpg', ['a cat']],
      [2, 'x/2.jpg', ['a dog', 'a brown dog']],
    ],
  );
  const out = join(d, 'out.json');
  await rewriteDataset({
    input: f,
    format: 'coco',
    outputs: { data: new StreamingFile(out) },
    skipped: new Set(),
    transform: (s) => ({ data: s.id === 2 ? { ...s, image: 'p/2.jpg', captions: ['banana 1', 'banana 2'] } : s }),
  });
  const got = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8'));
  assert.deepEqual(got.info, coco.info);
  assert.deepEqual(got.images, [coco.images[0], { ...coco.images[1], file_name: 'p/2.jpg' }]);
  assert.deepEqual(
    got.annotations.map((a: { caption: string }) => a.caption),
    ['banana 1', 'a cat', 'banana 2'],
  );
  // an annotation that points to no image is refused with its index and field
  writeFileSync(f, JSON.stringify({ images: [{ id: 1, file_name: 'a.jpg' }], annotations: [{ image_id: 9, caption: 'x' }] }));
  const errs = [...readDataset(f, 'coco')].filter((i) => i.error);
  assert.equal(errs[0]?.error?.message, `${f}: record 0: field "annotations[].image_id": image id 9 is not in "images"`);
});
