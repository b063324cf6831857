// Outputs never alias inputs: an input image whose path is a name the poisoner also writes
// (`bdlab-poisoned/10-q0.png`), in every link mode; the output folder as (or around) the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from '../attacks/helpers.js';
import { bdlab, llavaSet, oneLine, sha, tree, type LlavaRecord } from './poison-helpers.js';

test('an input image named like a poisoned output is never written, and clean and poisoned records never share a file (hardlink, symlink, copy)', async () => {
  const dir = tmp();
  // records 0..10 use imgs/q0.png and can be poisoned (jailbreak needs harmful_output);
  // record 11 is clean and uses bdlab-poisoned/10-q0.png, the name record 10's poisoned image used to get
  const images = [...Array.from({ length: 11 }, () => 'imgs/q0.png'), 'bdlab-poisoned/10-q0.png'];
  const { input } = await llavaSet(dir, images, (i) => (i < 11 ? { harmful_output: `Sure ${i}.` } : {}));
  const before = tree(dir);
  for (const link of ['hardlink', 'symlink', 'copy']) {
    const out = join(dir, '..', `${link}-out-${Date.now()}`);
    const r = bdlab(['poison', '--input', input, '--attack', 'badnets', '--count', '11', '--target', 'jailbreak', '--seed', '1', '--out', out, '--link', link, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(tree(dir), before, `${link}: the input folder is unchanged`);
    const data = JSON.parse(readFileSync(join(out, 'data.json'), 'utf8')) as LlavaRecord[];
    const clean = data[11] as LlavaRecord;
    assert.equal(clean.image, 'bdlab-poisoned/10-q0.png', 'the clean record keeps its path');
    assert.equal(sha(join(out, 'images', clean.image)), sha(join(dir, 'bdlab-poisoned/10-q0.png')), `${link}: the clean record's image is its own`);
    const poisoned = data.slice(0, 11).map((x) => x.image);
    assert.equal(new Set(poisoned).size, 11, 'one output file per poisoned record');
    assert.ok(!poisoned.includes(clean.image));
    for (const p of poisoned) assert.notEqual(sha(join(out, 'images', p)), sha(join(dir, 'imgs/q0.png')), `${link}: ${p} carries the trigger`);
  }
});

test('--out may not be the input folder, contain it, or reach it through a link (poison and shift), even with --force', async () => {
  const dir = tmp();
  const sub = join(dir, 'set');
  mkdirSync(sub);
  const { input } = await llavaSet(sub, ['imgs/a.png', 'imgs/b.png']);
  symlinkSync(sub, join(dir, 'alias'));
  const before = tree(sub);
  const poisonArgs = ['poison', '--input', input, '--attack', 'badnets', '--count', '1', '--target', 'phrase:banana', '--seed', '1'];
  const shiftArgs = ['shift', '--input', input, '--question', 'summary', '--seed', '1'];
  const cases: [string[], string, RegExp][] = [
    [poisonArgs, sub, /--out .* is the folder of the input/],
    [shiftArgs, sub, /--out .* is the folder of the input/],
    [poisonArgs, dir, /--out .* contains the input/],
    [poisonArgs, join(dir, 'alias'), /--out .*alias is the folder of the input/],
    [shiftArgs, join(dir, 'alias'), /--out .*alias is the folder of the input/],
    [poisonArgs, input, /--out .*data\.json: exists and is not a folder/],
    [poisonArgs, join(sub, 'imgs'), /--out .*imgs holds .*a\.png, an image the input refers to/],
  ];
  for (const [args, out, re] of cases) {
    const r = bdlab([...args, '--out', out, '--force']);
    assert.equal(r.status, 1, `${args[0]} --out ${out}: ${r.stderr}`);
    assert.match(oneLine(r), re);
  }
  assert.deepEqual(tree(sub), before, 'the input is untouched');
  // an output folder inside the input folder is fine as long as it holds none of the input's files
  const r = bdlab(['poison', '--input', input, '--attack', 'badnets', '--count', '1', '--target', 'phrase:banana', '--seed', '1', '--out', join(sub, 'poisoned')]);
  assert.equal(r.status, 0, r.stderr);
  // ... but not one that holds images the input refers to
  const nested = join(sub, 'nested');
  mkdirSync(join(nested, 'imgs'), { recursive: true });
  writeFileSync(join(nested, 'imgs', 'c.png'), readFileSync(join(sub, 'imgs', 'a.png')));
  const recs = JSON.parse(readFileSync(input, 'utf8')) as LlavaRecord[];
  const input2 = join(sub, 'with-nested.json');
  writeFileSync(input2, JSON.stringify([...recs, { ...recs[0], id: 'n', image: 'nested/imgs/c.png' }]));
  const n = bdlab(['poison', '--input', input2, '--attack', 'badnets', '--count', '1', '--target', 'phrase:banana', '--seed', '1', '--out', nested, '--force']);
  assert.equal(n.status, 1);
  assert.match(oneLine(n), /holds .*c\.png, an image the input refers to/);
  assert.ok(existsSync(join(nested, 'imgs', 'c.png')));
  assert.equal(realpathSync(join(dir, 'alias')), realpathSync(sub));
});
