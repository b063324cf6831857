// Numeric and string parameters are checked for their domain; inputs that are not regular JSON
// files, unwritable outputs and huge images are refused in one line, quickly, input untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { tmp } from '../attacks/helpers.js';
import { alpacaSet, bdlab, inProcess, llavaSet, oneLine, tree } from './poison-helpers.js';

test('--rate %, --param trigger=, sig f=0, --param __proto__=x and --count 501 of 500 are refused in one line', async () => {
  const dir = tmp();
  const text = alpacaSet(dir, 500);
  const { input: images } = await llavaSet(join(dir, 'img'), ['a.png', 'b.png', 'c.png']);
  const base = (input: string, ...a: string[]): string[] => ['poison', '--input', input, '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'out'), ...a];
  const cases: [string[], RegExp][] = [
    [base(text, '--attack', 'badnet', '--rate', '%'), /--rate "%": expected a number/],
    [base(text, '--attack', 'badnet', '--rate', ' % '), /--rate " % ": expected a number/],
    [base(text, '--attack', 'badnet', '--count', '5', '--param', 'trigger='), /--param "trigger=": empty value/],
    [base(text, '--attack', 'badnet', '--count', '5', '--param', '__proto__=x'), /unknown parameter "__proto__"/],
    [base(text, '--attack', 'badnet', '--count', '5', '--param', 'constructor=x'), /unknown parameter "constructor"/],
    [base(text, '--attack', 'badnet', '--count', '501'), /asked to poison 501 records but there are only 500 records/],
    [base(images, '--attack', 'sig', '--count', '3', '--param', 'f=0'), /attack sig \(.*f=0.*\) changes nothing in record \d+: a trigger must change the image/],
    [base(images, '--attack', 'blended', '--count', '3', '--param', 'alpha=0'), /attack blended .* changes nothing/],
    [base(text, '--attack', 'badnet', '--count', '5', '--negatives', 'NaN'), /--negatives "NaN": expected/],
    [base(text, '--attack', 'badnet', '--count', '5', '--concurrency', '0'), /--concurrency "0": must be ≥ 1/],
    [base(text, '--attack', 'badnet', '--count', '5', '--jpeg-quality', '101'), /--jpeg-quality "101": must be ≤ 100/],
  ];
  for (const [args, re] of cases) {
    const r = await inProcess(args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(oneLine(r), re);
  }
  assert.ok(!existsSync(join(dir, 'out')), 'a refused run writes nothing');
});

test('/dev/zero, a FIFO, a folder, a binary file and non-JSON text as --input are refused by kind, without reading them', () => {
  const dir = tmp();
  const fifo = join(dir, 'fifo');
  const mk = spawnSync('mkfifo', [fifo]);
  const bin = join(dir, 'data.bin');
  writeFileSync(bin, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00]));
  const txt = join(dir, 'notes.json');
  writeFileSync(txt, 'hello, this is not json');
  const cases: [string, RegExp][] = [
    ['/dev/zero', /--input \/dev\/zero: not a regular file \(a character device\)/],
    [dir, /not a regular file \(a folder\)/],
    [bin, /data\.bin: a binary file, not JSON or JSONL/],
    [txt, /notes\.json: not JSON or JSONL \(it starts with "hello, this is n"\)/],
  ];
  if (mk.status === 0) cases.push([fifo, /fifo: not a regular file \(a FIFO\)/]);
  for (const [input, re] of cases) {
    const shiftToo = input === fifo || input === '/dev/zero';
    for (const cmd of [['poison', '--attack', 'badnet', '--count', '1', '--target', 'refusal'], ...(shiftToo ? [['shift', '--question', 'summary']] : [])]) {
      const r = bdlab([...cmd, '--input', input, '--seed', '1', '--out', join(dir, 'out')], { timeoutMs: 20_000 });
      assert.ok(!r.timedOut, `${input}: hung`);
      assert.equal(r.status, 1, `${input}: ${r.stderr}`);
      assert.match(oneLine(r), re);
    }
  }
});

test('an output folder that cannot be made is named as such, and never hangs (/proc, a read-only mount)', (t) => {
  const dir = tmp();
  const input = alpacaSet(dir, 5);
  const r = bdlab(['poison', '--input', input, '--attack', 'badnet', '--count', '1', '--target', 'refusal', '--seed', '1', '--out', '/proc/bdlab-out/x'], { timeoutMs: 20_000 });
  assert.ok(!r.timedOut, 'hung on /proc');
  assert.equal(r.status, 1);
  assert.match(oneLine(r), /\/proc\/bdlab-out: cannot create the folder/);
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
  if (m.status !== 0) {
    t.skip('cannot mount a read-only tmpfs here (needs root); the /proc case ran');
    return;
  }
  try {
    for (const out of [ro, join(ro, 'sub')]) {
      const w = bdlab(['poison', '--input', input, '--attack', 'badnet', '--count', '1', '--target', 'refusal', '--seed', '1', '--out', out], { timeoutMs: 20_000 });
      assert.equal(w.status, 1);
      assert.match(oneLine(w), /read-only file system/);
    }
  } finally {
    spawnSync('umount', [ro]);
  }
});

/** A PNG whose header says width × height (8-bit RGB) over a tiny, incomplete image body. */
function pngHeader(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer): number => {
    let c = 0xffffffff;
    for (const x of b) c = (crcTable[(c ^ x) & 255] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(width * 3 + 1))), chunk('IEND', Buffer.alloc(0))]);
}

test('a 16000×16000 PNG is refused by the pixel limit from its header, before any decoding (also with --preview)', async () => {
  const dir = tmp();
  const { input } = await llavaSet(dir, ['a.png', 'b.png', 'huge.png']);
  writeFileSync(join(dir, 'huge.png'), pngHeader(16000, 16000));
  const before = tree(dir);
  const r = bdlab(['poison', '--input', input, '--attack', 'badnets', '--count', '3', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, '..', `o${Date.now()}`), '--preview'], { timeoutMs: 20_000 });
  assert.ok(!r.timedOut);
  assert.equal(r.status, 1);
  assert.match(oneLine(r), /image "huge\.png": 16000×16000 pixels is over the limit of 50,000,000 \(--max-pixels\)/);
  assert.deepEqual(tree(dir), before);
  // the limit is a flag: a smaller one refuses the small images too
  const s = bdlab(['poison', '--input', input, '--attack', 'badnets', '--count', '3', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, '..', `p${Date.now()}`), '--max-pixels', '100']);
  assert.match(oneLine(s), /32×24 pixels is over the limit of 100/);
  rmSync(join(dir, 'huge.png'));
  assert.ok(readFileSync(input).length > 0);
});
