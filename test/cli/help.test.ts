// The `bdlab` entry point: usage, the info command, and one-line failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bdlab = (...args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [join(root, 'bin', 'bdlab.js'), ...args], { encoding: 'utf8' });

test('bdlab --help prints usage and exits 0', () => {
  const r = bdlab('--help');
  assert.equal(r.status, 0);
  assert.match(String(r.stdout), /Usage: bdlab/);
  assert.match(String(r.stdout), /info/);
});

test('bdlab info --json prints exactly one JSON object', () => {
  const r = bdlab('info', '--json');
  assert.equal(r.status, 0, String(r.stderr));
  const lines = String(r.stdout).trim().split('\n');
  assert.equal(lines.length, 1);
  const o = JSON.parse(lines[0] as string) as { threads: number; libtorch: string };
  assert.ok(o.threads >= 1);
  assert.match(o.libtorch, /^\d+\.\d+/);
});

test('an unknown command fails with a non-zero exit', () => {
  const r = bdlab('no-such-command');
  assert.notEqual(r.status, 0);
  assert.match(String(r.stderr), /unknown command/);
});

test('usage errors are one line on stderr with a non-zero exit, for every kind', () => {
  const cases: Array<[string[], RegExp]> = [
    [['no-such-command'], /unknown command 'no-such-command'/],
    [['poison', '--bogus'], /unknown option '--bogus'/],
    [['eval', 'asr', '--task'], /option '--task <task>' argument missing/],
    [['eval', 'asrg', '--attacker', '1', '--user', '2', 'extra'], /too many arguments/],
    [['poison', '--attack', 'badnet'], /--input/],
  ];
  for (const [args, reason] of cases) {
    const r = bdlab(...args);
    assert.notEqual(r.status, 0, args.join(' '));
    const err = String(r.stderr).trim();
    assert.equal(err.split('\n').length, 1, `${args.join(' ')}: ${err}`);
    assert.match(err, /^bdlab: /);
    assert.match(err, reason);
    assert.equal(String(r.stdout), '');
  }
});
