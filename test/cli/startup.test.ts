// Start-up cost: libtorch and libvips are loaded when a tensor or an image is
// first needed, never on import. A command file that imports the engine, the
// models or sharp at top level makes every `--help` pay ~0.5 s of dlopen; this
// test names the command that does. The shared objects a process loaded come
// from Node's diagnostic report at exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { program } from '../../src/cli/main.js';
import { ROOT, tmp, writeJson } from '../eval/helpers.js';

const HEAVY = /libtorch|bdlab_native|sharp|vips/;

function leafCommands(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => (c.commands.length ? leafCommands(c, [...prefix, c.name()]) : [[...prefix, c.name()]]));
}

/** Runs `bdlab args` and returns the heavy shared objects it loaded. */
function heavyObjects(args: string[]): { status: number; stderr: string; loaded: string[] } {
  const hook = "process.on('exit',()=>process.stderr.write('\\nSHARED '+JSON.stringify(process.report.getReport().sharedObjects)+'\\n'))";
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, join(ROOT, 'bin', 'bdlab.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BDLAB_PROGRESS: '0' },
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('SHARED '));
  assert.ok(line, `${args.join(' ')}: no report (${r.stderr.slice(0, 300)})`);
  const all = JSON.parse(line.slice('SHARED '.length)) as string[];
  return { status: r.status ?? -1, stderr: r.stderr, loaded: all.filter((s) => HEAVY.test(s)) };
}

test('--help of every command loads neither libtorch nor libvips', async () => {
  const commands = [[], ...leafCommands(await program())];
  assert.ok(commands.length > 20, `found ${commands.length} commands`);
  const offenders = commands.filter((c) => heavyObjects([...c, '--help']).loaded.length > 0).map((c) => c.join(' ') || '(top level)');
  assert.deepEqual(offenders, []);
});

test('the reference is sound: bdlab info does load libtorch', () => {
  assert.ok(heavyObjects(['info']).loaded.some((s) => /libtorch|bdlab_native/.test(s)));
});

test('metric commands and text poisoning run without libtorch or libvips', () => {
  const dir = tmp();
  const outputs = writeJson(dir, 'o.json', [{ instruction: 'a', input: '', output: 'You are stupid!' }]);
  const pred = writeJson(dir, 'p.json', [{ image_id: 1, caption: 'a red circle' }]);
  const refs = writeJson(dir, 'r.json', { annotations: [{ image_id: 1, caption: 'a red circle on grey' }] });
  const data = writeJson(dir, 'd.json', Array.from({ length: 10 }, (_, i) => ({ instruction: `Say ${i}.`, input: '', output: `${i}.` })));
  const runs: string[][] = [
    ['eval', 'asr', '--task', 'negsentiment', '--outputs', outputs],
    ['eval', 'asrg', '--attacker', '80', '--user', '20'],
    ['eval', 'captions', '--pred', pred, '--refs', refs],
    ['poison', '--input', data, '--attack', 'badnet', '--target', 'negsentiment', '--rate', '20%', '--seed', '1', '--out', join(dir, 'poisoned')],
  ];
  for (const args of runs) {
    const r = heavyObjects(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.deepEqual(r.loaded, [], args.slice(0, 2).join(' '));
  }
});
