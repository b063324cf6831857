// The evaluation command line as a new user meets it: labels are named as
// labels, binary input is named as binary, and `eval aggregate` pools only
// runs of one protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readResult } from '../../src/eval/results.js';
import { bdlab, tmp, writeJson } from './helpers.js';

const oneLine = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${stderr}`);
  return lines[0]!;
};

const d = tmp();
const trig = writeJson(d, 'trig.json', [{ output: 'a banana' }, { output: 'banana!' }, { output: 'no' }, { output: 'apple' }]);
const clean = writeJson(d, 'clean.json', [{ output: 'no' }, { output: 'no' }, { output: 'no' }, { output: 'banana' }]);

test('eval --label key=value is recorded in the subject; the seed and template labels fill their fields', () => {
  const out = join(d, 'labels.json');
  const r = bdlab(['eval', 'asr', '--target', 'banana', '--outputs', trig, '--out', out, '--label', 'model=victim-7b', '--label', 'attack=badnet', '--label', 'seed=3', '--label', 'template=alpaca']);
  assert.equal(r.status, 0, r.stderr);
  const rec = readResult(out);
  assert.deepEqual(rec.subject, { model: 'victim-7b', attack: 'badnet', seed: '3', template: 'alpaca', task: 'target' });
  assert.equal(rec.seed, 3);
  assert.equal(rec.prompts.template, 'alpaca');
});

test('the old label flags of eval point to --label', () => {
  const r = bdlab(['eval', 'asr', '--target', 'banana', '--outputs', trig, '--model', 'victim']);
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /--model is not an input of eval asr.*--label model=victim/);
});

test('a bad --label is named', () => {
  for (const bad of ['model', '=x', 'Model Name=x', '__proto__=x']) {
    const r = bdlab(['eval', 'asrg', '--attacker', '50', '--user', '20', '--label', bad]);
    assert.equal(r.status, 1, bad);
    assert.match(oneLine(r.stderr), /--label/);
  }
  const dup = bdlab(['eval', 'asrg', '--attacker', '50', '--user', '20', '--label', 'a=1', '--label', 'a=2']);
  assert.match(oneLine(dup.stderr), /--label a given twice/);
});

test('a binary file as --outputs is named as binary, without its bytes', () => {
  const bin = join(d, 'image.png');
  writeFileSync(bin, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xff, 0xfe, 0x00]));
  const r = bdlab(['eval', 'asr', '--target', 'banana', '--outputs', bin]);
  assert.equal(r.status, 1);
  assert.equal(oneLine(r.stderr), `bdlab: ${bin}: binary file, expected JSON`);
});

function run(name: string, args: string[]): string {
  const out = join(d, name);
  const r = bdlab(['eval', 'asr', ...args, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const plain1 = run('plain1.json', ['--target', 'banana', '--outputs', trig, '--label', 'seed=1']);
const plain2 = run('plain2.json', ['--target', 'banana', '--outputs', clean, '--label', 'seed=2']);
const paired = run('paired.json', ['--target', 'banana', '--outputs', trig, '--clean-outputs', clean, '--label', 'seed=3']);
const otherTask = run('apple.json', ['--target', 'apple', '--outputs', trig, '--label', 'seed=4']);
const otherTemplate = run('tpl.json', ['--target', 'banana', '--outputs', trig, '--label', 'seed=5', '--label', 'template=vicuna']);

test('eval aggregate pools runs of one protocol', () => {
  const r = bdlab(['eval', 'aggregate', plain1, plain2, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { runs: number }).runs, 2);
});

test('eval aggregate refuses runs made with and without --clean-outputs unless --allow-mixed', () => {
  const r = bdlab(['eval', 'aggregate', plain1, paired]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /paired\.json: .*clean outputs.*--allow-mixed/);
  assert.equal(bdlab(['eval', 'aggregate', plain1, paired, '--allow-mixed']).status, 0);
});

test('eval aggregate refuses mixed tasks and templates unless --allow-mixed', () => {
  assert.match(oneLine(bdlab(['eval', 'aggregate', plain1, otherTask]).stderr), /apple\.json: task "target:apple" differs from "target:banana"/);
  assert.match(oneLine(bdlab(['eval', 'aggregate', plain1, otherTemplate]).stderr), /tpl\.json: template "vicuna" differs/);
});

test('eval aggregate refuses the same file twice', () => {
  const r = bdlab(['eval', 'aggregate', plain1, plain2, join(d, '.', 'plain1.json')]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /plain1\.json: given twice/);
  const copy = join(d, 'copy.json');
  writeFileSync(copy, readFileSync(plain1));
  assert.match(oneLine(bdlab(['eval', 'aggregate', plain1, copy]).stderr), /copy\.json: the same record as .*plain1\.json/);
});

test('eval aggregate refuses ASR outside [0, 100]', () => {
  for (const v of [-20, 250]) {
    const rec = JSON.parse(readFileSync(plain2, 'utf8')) as { metrics: Record<string, number> };
    rec.metrics.asr = v;
    const p = writeJson(d, `bad${v}.json`, rec);
    const r = bdlab(['eval', 'aggregate', plain1, p]);
    assert.equal(r.status, 1);
    assert.match(oneLine(r.stderr), new RegExp(`bad${v}\\.json: field "metrics\\.asr" must be a percentage in \\[0, 100\\], got ${v}`));
  }
});
