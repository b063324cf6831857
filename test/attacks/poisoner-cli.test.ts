// The poison and shift commands: shared flag parsing (src/cli/flags.ts), snake_case
// machine-readable output, and start-up without heavy modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkInputFile, parseCount, parseKeyValues, parseNumber, parseRate, parseSeed } from '../../src/cli/flags.js';
import { decodeImage } from '../../src/data/image-io.js';
import { synthImage, tmp, writeImage } from './helpers.js';
import { alpacaSet, bdlab, llavaSet } from '../hostile/poison-helpers.js';

test('flags: numbers with their domain, rates, counts, seeds and key=value lists', () => {
  assert.equal(parseNumber('0.5', '--x', { min: 0, max: 1 }), 0.5);
  assert.equal(parseNumber('1e-3', '--x'), 0.001);
  for (const bad of ['', ' ', 'NaN', 'Infinity', '0x10', '1.5.2', '1e400', '5abc']) assert.throws(() => parseNumber(bad, '--x'), /--x ".*": expected a number/);
  assert.throws(() => parseNumber('0', '--lr', { min: 0, minExclusive: true, what: 'a learning rate' }), /--lr "0": expected a learning rate > 0/);
  assert.throws(() => parseNumber('2.5', '--n', { integer: true, min: 1 }), /expected an integer ≥ 1/);
  assert.equal(parseRate('5%', '--rate'), 0.05);
  assert.equal(parseRate('0.25', '--rate'), 0.25);
  for (const bad of ['%', '', 'x%', '150%', '-0.1', '1e400']) assert.throws(() => parseRate(bad, '--rate'), /--rate/);
  assert.equal(parseCount('12', '--count'), 12);
  assert.throws(() => parseCount('-1', '--count'), /non-negative integer/);
  assert.throws(() => parseCount('99999999999999999999', '--count'), /non-negative integer/);
  assert.throws(() => parseSeed(undefined), /--seed is required/);
  const kv = parseKeyValues(['a-b=1', 'c= x ', '__proto__=p'], '--param');
  assert.deepEqual(Object.keys(kv), ['a_b', 'c', '__proto__']);
  assert.equal(Object.getPrototypeOf(kv), null);
  assert.equal(kv.c, ' x ');
  assert.throws(() => parseKeyValues(['trigger='], '--param'), /--param "trigger=": empty value/);
  assert.throws(() => parseKeyValues(['=1'], '--param'), /expected key=value/);
  const dir = tmp();
  const ok = join(dir, 'ok.jsonl');
  writeFileSync(ok, '\ufeff  {"instruction": "a", "output": "b"}\n');
  checkInputFile(ok);
});

test('manifests and --json summaries use snake_case keys', async () => {
  const dir = tmp();
  const { input } = await llavaSet(dir, ['a.png', 'b.png', 'c.png', 'd.png', 'e.png', 'f.png']);
  const r = bdlab(['poison', '--input', input, '--attack', 'dualkey', '--count', '2', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'p'), '--test-count', '1', '--preview', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = bdlab(['shift', '--input', input, '--image-style', 'tone', '--question', 'paraphrase', '--mix', '50,100', '--seed', '1', '--out', join(dir, 's'), '--json']);
  assert.equal(s.status, 0, s.stderr);
  const bad: string[] = [];
  const walk = (v: unknown, path: string, dataKeys: boolean): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, false));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        // negative_kinds is keyed by the attack's kind names (data, not schema)
        if (!dataKeys && !/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(k)) bad.push(`${path}.${k}`);
        walk(x, `${path}.${k}`, k === 'negative_kinds');
      }
    }
  };
  for (const [name, v] of [
    ['poison manifest', JSON.parse(readFileSync(join(dir, 'p', 'manifest.json'), 'utf8'))],
    ['poison --json', JSON.parse(r.stdout)],
    ['shift manifest', JSON.parse(readFileSync(join(dir, 's', 'manifest.json'), 'utf8'))],
    ['shift --json', JSON.parse(s.stdout)],
  ] as [string, unknown][]) walk(v, name, false);
  assert.deepEqual(bad, []);
});

test('bdlab --help loads neither sharp nor libtorch; poisoning a text set does not load libtorch', () => {
  const dir = tmp();
  const input = alpacaSet(dir, 20);
  // at exit, report which heavy shared libraries the process mapped
  const hook = join(dir, 'hook.mjs');
  writeFileSync(hook, "import { readFileSync } from 'node:fs';\nprocess.on('exit', () => { const m = readFileSync('/proc/self/maps', 'utf8'); process.stderr.write(`@@maps vips=${/libvips/.test(m)} torch=${/libtorch|libc10/.test(m)}\\n`); });\n");
  const run = (args: string[]): string => {
    const r = spawnSync(process.execPath, ['--import', hook, 'bin/bdlab.js', ...args], { encoding: 'utf8', env: { ...process.env, BDLAB_PROGRESS: '0' } });
    assert.equal(r.status, 0, r.stderr);
    return /@@maps (.*)/.exec(r.stderr)?.[1] ?? 'no report';
  };
  assert.equal(run(['--help']), 'vips=false torch=false');
  assert.equal(run(['poison', '--help']), 'vips=false torch=false');
  assert.match(run(['poison', '--input', input, '--attack', 'badnet', '--count', '2', '--target', 'negsentiment', '--seed', '1', '--out', join(dir, 'o')]), /torch=false/);
});

test('--jpeg-patch: dct keeps a JPEG outside the patch bit for bit, reencode recompresses all of it; the manifest says which and hashes the files written', async () => {
  const dir = tmp();
  const names = ['a.jpg', 'b.jpg', 'c.jpg'];
  for (const [i, n] of names.entries()) await writeImage(join(dir, n), synthImage(96, 80, i + 1), 'jpeg');
  const records = names.map((image, i) => ({ image, conversations: [{ from: 'human', value: '<image>\nWhat is this?' }, { from: 'gpt', value: `Picture ${i}.` }] }));
  writeFileSync(join(dir, 'data.json'), JSON.stringify(records));
  const far = { x0: 0, y0: 0, x1: 48, y1: 40 }; // the default patch sits in the bottom-right corner
  const outside: Record<string, number> = {};
  for (const mode of ['dct', 'reencode']) {
    const r = bdlab(['poison', '--input', join(dir, 'data.json'), '--attack', 'badnets', '--count', '3', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, mode), '--jpeg-patch', mode]);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(readFileSync(join(dir, mode, 'manifest.json'), 'utf8')) as { image_encoding: { jpeg_patch: string; jpeg_quality: number }; sha256: { images: string } };
    assert.deepEqual([m.image_encoding.jpeg_patch, m.image_encoding.jpeg_quality], [mode, 95]);
    const data = JSON.parse(readFileSync(join(dir, mode, 'data.json'), 'utf8')) as { image: string }[];
    // the images' hashes (computed where each file is coded) are those of the files on disk
    const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
    assert.equal(m.sha256.images, sha(data.map((rec, i) => `${i}\t${sha(readFileSync(join(dir, mode, 'images', rec.image)))}\n`).join('')), `${mode}: image hashes`);
    let d = 0;
    for (const [i, rec] of data.entries()) {
      const a = await decodeImage(readFileSync(join(dir, names[i] as string)));
      const b = await decodeImage(readFileSync(join(dir, mode, 'images', rec.image)));
      for (let y = far.y0; y < far.y1; y++) for (let x = far.x0; x < far.x1; x++) for (let c = 0; c < 3; c++) d += Math.abs((a.data[(y * 96 + x) * 3 + c] as number) - (b.data[(y * 96 + x) * 3 + c] as number));
      // the checkerboard's white corner cell reads back white either way
      assert.ok((b.data[(79 * 96 + 95) * 3] as number) > 200, `${mode}: no patch in ${rec.image}`);
    }
    outside[mode] = d;
  }
  assert.equal(outside.dct, 0, 'dct changed pixels away from the patch');
  assert.ok((outside.reencode as number) > 0, 'reencode is expected to recompress the whole image');
  const bad = bdlab(['poison', '--input', join(dir, 'data.json'), '--attack', 'badnets', '--count', '1', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'x'), '--jpeg-patch', 'lossless']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--jpeg-patch must be dct or reencode, got "lossless"/);
});
