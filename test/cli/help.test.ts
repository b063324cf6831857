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

test('a reader that closes the pipe early (bdlab ... | head) ends the command quietly', async () => {
  const { spawn } = await import('node:child_process');
  // an output far larger than a pipe's buffer, so writes go on after the reader has gone
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = join(mkdtempSync(join(tmpdir(), 'bdlab-pipe-')), 'm');
  assert.equal(bdlab('model', 'new', '--out', dir, '--preset', 'tiny').status, 0);
  const ids = Array.from({ length: 200 }, (_, i) => String(5 + (i % 50))).join(',');
  const child = spawn(process.execPath, [join(root, 'bin', 'bdlab.js'), 'inspect', '--model', dir, '--ids', ids, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Error/);
});

test('an unknown subcommand is an error even with --help after it', () => {
  for (const args of [['defend-nothing', '--help'], ['eval', 'nosuch', '--help'], ['model', 'nosuch']]) {
    const r = bdlab(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(String(r.stderr), /unknown command/);
    assert.equal(String(r.stdout), '');
  }
});

test('no command\'s help prints an empty list as a default', async () => {
  const { program } = await import('../../src/cli/main.js');
  const walk = (c: import('commander').Command): import('commander').Command[] => [c, ...c.commands.flatMap(walk)];
  const all = walk(await program());
  assert.ok(all.length > 20, 'every command and subcommand is visited');
  for (const c of all) assert.doesNotMatch(c.helpInformation(), /\(default: \[\]\)/, c.name());
});

test('a command line loads only the command it names; help, flags and typos get every command', async () => {
  const { program } = await import('../../src/cli/main.js');
  const names = (c: import('commander').Command): string[] => c.commands.map((x) => x.name());
  const everything = await program();
  const captions = await program(['eval', 'captions', '--pred', 'p.json']);
  assert.deepEqual(names(captions), ['eval']);
  assert.deepEqual(names(captions.commands[0]!), ['captions']);
  assert.deepEqual(names(await program(['poison', '--help'])), ['poison']);
  // a subcommand typo keeps eval's full list (for the error), a top-level one the whole program
  const evalAll = names(everything.commands.find((c) => c.name() === 'eval')!);
  assert.ok(evalAll.length > 5);
  assert.deepEqual(names((await program(['eval', 'captionz'])).commands[0]!), evalAll);
  for (const argv of [['nosuch'], ['--help'], ['--version'], []]) assert.deepEqual(names(await program(argv)), names(everything), argv.join(' '));
  assert.equal(names(everything)[0], 'demo', 'help order is the registry order');
});
