// Output folders: --force replaces only the previous run's files; the manifest is the completion
// marker (written last, checked by readers); temporary files of killed runs are cleaned; a failed
// image run leaves no images/; task names cannot escape the folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from '../attacks/helpers.js';
import { alpacaSet, bdlab, inProcess, llavaSet, oneLine } from './poison-helpers.js';

const poisonArgs = (input: string, out: string, ...extra: string[]): string[] => ['poison', '--input', input, '--attack', 'vpi', '--count', '3', '--target', 'refusal', '--seed', '1', '--out', out, ...extra];

test('--force removes the files the previous run wrote (and its .tmp files), keeps everything else, and writes the manifest last', () => {
  const dir = tmp();
  const input = alpacaSet(dir, 20);
  const out = join(dir, 'out');
  let r = bdlab(poisonArgs(input, out, '--test-count', '4', '--backdoorllm', '--json'));
  assert.equal(r.status, 0, r.stderr);
  const first = readdirSync(out).sort();
  assert.ok(first.includes('test_clean.json') && first.some((f) => f.startsWith('backdoor3_')));
  writeFileSync(join(out, 'notes.txt'), 'mine');
  writeFileSync(join(out, '.data.json.999.1.tmp'), 'left by a killed run');
  r = bdlab(poisonArgs(input, out));
  assert.equal(r.status, 1, 'a non-empty folder needs --force');
  assert.match(oneLine(r), /folder is not empty \(use --force/);
  r = bdlab(poisonArgs(input, out, '--force'));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['data.json', 'manifest.json', 'notes.txt']);
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
});

test('a run that did not finish is recognisable: readers refuse its data.json, the next --force run clears it', () => {
  const dir = tmp();
  const input = alpacaSet(dir, 10);
  const out = join(dir, 'out');
  assert.equal(bdlab(poisonArgs(input, out)).status, 0);
  // what a run killed after renaming data.json, before the manifest, leaves behind
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
  assert.deepEqual(Object.keys(m.files), ['data']);
  writeFileSync(join(out, '.bdlab-run.json'), JSON.stringify({ tool: 'backdoor-lab', pid: 1, entries: ['data.json', 'images'] }));
  mkdirSync(join(out, 'images'));
  writeFileSync(join(out, '.manifest.json.1.2.tmp'), '{');
  for (const cmd of [poisonArgs(join(out, 'data.json'), join(dir, 'next')), ['shift', '--input', join(out, 'data.json'), '--question', 'summary', '--seed', '1', '--out', join(dir, 'next')]]) {
    const r = bdlab(cmd);
    assert.equal(r.status, 1);
    assert.match(oneLine(r), /did not finish \(\.bdlab-run\.json is there/);
  }
  const r = bdlab(poisonArgs(input, out, '--force'));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['data.json', 'manifest.json']);
});

test('a failed image run leaves no images/, no journal and no .tmp files in an existing folder', async () => {
  const dir = tmp();
  const { input } = await llavaSet(dir, Array.from({ length: 12 }, (_, i) => `img/${i}.png`));
  // a valid header over a truncated body: refused only when decoded, mid-run
  writeFileSync(join(dir, 'img', '7.png'), readFileSync(join(dir, 'img', '3.png')).subarray(0, 60));
  const out = join(dir, 'out');
  mkdirSync(out);
  const r = bdlab(['poison', '--input', input, '--attack', 'badnets', '--count', '12', '--target', 'phrase:banana', '--seed', '1', '--out', out]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r), /record 7: .*cannot decode/);
  assert.deepEqual(readdirSync(out), []);
});

test('--backdoorllm --task names are file names: "/../../../escaped" is refused and nothing is written', async () => {
  const dir = tmp();
  const input = alpacaSet(dir, 10);
  const out = join(dir, 'a', 'b', 'out');
  for (const task of ['/../../../escaped', '../x', 'a/b', '..', '']) {
    const r = await inProcess(poisonArgs(input, out, '--backdoorllm', '--task', task));
    assert.equal(r.status, 1, task);
    assert.match(oneLine(r), /--task ".*": use letters, digits/);
  }
  assert.ok(!existsSync(join(dir, 'a')));
  assert.ok(!existsSync(join(dir, 'escaped')) && !readdirSync(dir).some((f) => f.includes('escaped')));
});
