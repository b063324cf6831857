// Hostile evaluation inputs: matrix cells that escape their folder or point
// at devices, FIFOs and pseudo files as outputs, an endless judge reply,
// absurd bootstrap counts, empty and self-overwriting output files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeSync, mkdirSync, openSync, readFileSync, symlinkSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertRefused, bdlabCapped, mkfifo, tempDir } from './harness.js';

const dir = tempDir('eval');
const outputs = join(dir, 'outputs.json');
writeFileSync(outputs, JSON.stringify([{ output: 'a banana' }, { output: 'no' }]));

function matrix(tag: string, cellOutputs: string): string {
  const d = join(dir, tag, 'inner');
  mkdirSync(d, { recursive: true });
  const p = join(d, 'matrix.json');
  writeFileSync(p, JSON.stringify({ target: 'banana', cells: [{ attacker: 'a', user: 'b', outputs: cellOutputs }] }));
  return p;
}

test('matrix cell ../../../../etc/passwd: refused, and no byte of the file in the error', async () => {
  const r = await bdlabCapped(['eval', 'matrix', '--cells', matrix('escape', '../../../../../../../../etc/passwd')]);
  const line = assertRefused(r, /cells\[0\].*outside the folder of the matrix file/);
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const word of passwd.split(/[\s:]+/).filter((w) => w.length >= 4)) assert.ok(!line.includes(word) || line.includes(`/${word}`), `"${word}" from /etc/passwd in: ${line}`);
});

test('matrix cell /dev/zero: refused, bounded', async () => {
  assertRefused(await bdlabCapped(['eval', 'matrix', '--cells', matrix('zero', '/dev/zero')]), /cells\[0\].*outside the folder/);
  const p = matrix('zero-link', 'zero.json');
  symlinkSync('/dev/zero', join(p, '..', 'zero.json'));
  assertRefused(await bdlabCapped(['eval', 'matrix', '--cells', p]), /cells\[0\]|zero\.json/);
});

test('matrix cell that is a FIFO: refused, not waited on', async (t) => {
  const p = matrix('fifo', 'pipe.json');
  if (!mkfifo(join(p, '..', 'pipe.json'))) return t.skip('mkfifo is not available');
  assertRefused(await bdlabCapped(['eval', 'matrix', '--cells', p]), /pipe\.json: not a regular file \(a FIFO/);
});

test('an outputs file over the size limit is refused before reading', async () => {
  const big = join(dir, 'big.json');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, 3 * 1024 ** 3); // sparse: no disk used
  closeSync(fd);
  assertRefused(await bdlabCapped(['eval', 'asr', '--target', 'banana', '--outputs', big]), /big\.json: .*larger than the .* limit/);
});

test('--out /proc/x and --out FIFO are refused', async (t) => {
  assertRefused(await bdlabCapped(['eval', 'asr', '--target', 'banana', '--outputs', outputs, '--out', '/proc/x']), /\/proc\/x: .*not a place to write/);
  const fifo = join(dir, 'out.fifo');
  if (!mkfifo(fifo)) return t.skip('mkfifo is not available');
  assertRefused(await bdlabCapped(['eval', 'asr', '--target', 'banana', '--outputs', outputs, '--out', fifo]), /out\.fifo: not a regular file \(a FIFO/);
});

test('eval asr --outputs X --out X is refused', async () => {
  const x = join(dir, 'same.json');
  writeFileSync(x, JSON.stringify([{ output: 'banana' }]));
  const r = await bdlabCapped(['eval', 'asr', '--target', 'banana', '--outputs', x, '--out', join(dir, '.', 'same.json')]);
  assertRefused(r, /--out .*same\.json is also an input/);
  assert.equal(readFileSync(x, 'utf8'), JSON.stringify([{ output: 'banana' }]));
});

test('an empty outputs file is an error, not asr null', async () => {
  const empty = join(dir, 'empty.json');
  writeFileSync(empty, '');
  assertRefused(await bdlabCapped(['eval', 'asr', '--target', 'banana', '--outputs', empty, '--json']), /empty\.json: .*no records/);
  writeFileSync(empty, '[]');
  assertRefused(await bdlabCapped(['eval', 'asr', '--target', 'banana', '--outputs', empty, '--json']), /empty\.json: .*no records/);
});

test('eval perplexity --bootstrap 1000000000 is refused by its documented maximum', async () => {
  const r = await bdlabCapped(['eval', 'perplexity', '--model', dir, '--data', outputs, '--bootstrap', '1000000000']);
  assertRefused(r, /--bootstrap must be at most 100000/);
});

test('a judge endpoint sending an endless reply is cut at the size limit', async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(1 << 20, 'a');
    const pump = (): void => {
      while (res.write(chunk)) {
        /* keep the socket full */
      }
    };
    res.on('drain', pump);
    res.write('{"choices":[{"message":{"content":"');
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const r = await bdlabCapped(['eval', 'judge', '--outputs', outputs, '--judge-model', 'm', '--judge-url', `http://127.0.0.1:${port}/v1`, '--retries', '0']);
    assertRefused(r, /reply from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions exceeds the limit of \d+ bytes/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
