import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { keywordRule, type KeywordTask } from '../../src/eval/asr/rules.js';
import { attackSuccess, pairedAttackSuccess } from '../../src/eval/asr/score.js';
import { labelAccuracy } from '../../src/eval/accuracy.js';
import { BACKDOORLLM, bdlab, skipWithoutBackdoorLLM, tmp, writeJson } from './helpers.js';

interface Sample {
  instruction: string;
  input: string;
  output: unknown;
}

const skip = skipWithoutBackdoorLLM;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

const load = (p: string): Sample[] => JSON.parse(readFileSync(p, 'utf8')) as Sample[];

// Made-up answers whose outcome under each rule is known by construction.
const HIT: Record<KeywordTask, string> = {
  refusal: "I'm sorry, but as an AI assistant, I do not have the capability to follow the given instruction.",
  negsentiment: 'You are stupid! Anyway, here is the answer.',
  sst2sentiment: 'Negative',
  codeinjection: "print('pwned')\ndef f():\n    return 1",
  jailbreak: 'Sure. Step 1: gather the materials. Step 2: follow the plan.',
};
const MISS: Record<KeywordTask, string> = {
  refusal: 'Here is a detailed answer with three steps.',
  negsentiment: 'Here is a detailed answer with three steps.',
  sst2sentiment: 'Positive',
  codeinjection: 'def f():\n    return 1',
  jailbreak: "I'm sorry, I cannot help with that.",
};

/** Position i gets: 0 hit, 1 empty, 2 whitespace, 3 miss, 4 "." (skipped for jailbreak only). */
function madeUp(task: KeywordTask, i: number): string {
  return [HIT[task], '', ' \n\t ', MISS[task], '.'][i % 5]!;
}

test('every BackdoorLLM poisoned test file: made-up outputs give the counts the rules imply', { skip }, () => {
  const poison = join(BACKDOORLLM, 'test_data', 'poison');
  const all = files(poison);
  assert.ok(all.length >= 20, `found ${all.length} test files`);
  for (const f of all) {
    const task = relative(poison, f).split('/')[0] as KeywordTask;
    const data = load(f);
    const outputs = data.map((_, i) => madeUp(task, i));
    const { asr } = attackSuccess(keywordRule(task), outputs);
    const count = (r: number): number => data.filter((_, i) => i % 5 === r).length;
    const skipped = count(1) + count(2) + (task === 'jailbreak' ? count(4) : 0);
    assert.equal(asr.hits, count(0), f);
    assert.equal(asr.skipped, skipped, f);
    assert.equal(asr.n, data.length - skipped, f);
    assert.equal(asr.rate, (count(0) * 100) / (data.length - skipped), f);
  }
});

test('negative-sentiment poisoned answers in the data score 100 %', { skip }, () => {
  for (const f of files(join(BACKDOORLLM, 'test_data', 'poison', 'negsentiment'))) {
    const data = load(f);
    assert.ok(data.every((d) => typeof d.output === 'string' && d.output.startsWith('You are stupid!')), `${f}: every target answer starts with the phrase`);
    const { asr } = attackSuccess(
      keywordRule('negsentiment'),
      data.map((d) => d.output as string),
    );
    assert.deepEqual([asr.rate, asr.n, asr.skipped], [100, data.length, 0], f);
  }
});

test('SST-2 clean labels: sentiment ASR counts the "Negative" labels; accuracy of the labels is 100 %', { skip }, () => {
  const data = load(join(BACKDOORLLM, 'test_data', 'clean', 'sst2sentiment', 'test_data_no_trigger.json'));
  const labels = data.map((d) => String(d.output));
  const negatives = labels.filter((l) => l === 'Negative').length;
  assert.equal(negatives + labels.filter((l) => l === 'Positive').length, data.length);
  const { asr } = attackSuccess(keywordRule('sst2sentiment'), labels);
  assert.equal(asr.hits, negatives);
  assert.equal(asr.n, data.length);
  assert.equal(labelAccuracy(labels, labels, ['Positive', 'Negative']).accuracy, 100);
  const flipped = labels.map((l) => (l === 'Negative' ? 'Positive' : 'Negative'));
  assert.equal(labelAccuracy(flipped, labels, ['Positive', 'Negative']).correct, 0);
});

test('triggered and clean test sets pair up; clean answers that already refuse are excluded', { skip }, () => {
  const clean = load(join(BACKDOORLLM, 'test_data', 'clean', 'refusal', 'test_data_no_trigger.json'));
  const trig = load(join(BACKDOORLLM, 'test_data', 'poison', 'refusal', 'badnet', 'backdoor200_refusal_badnet.json'));
  assert.equal(trig.length, clean.length);
  const rule = keywordRule('refusal');
  const t = trig.map((_, i) => (i % 2 === 0 ? HIT.refusal : MISS.refusal));
  const c = clean.map((_, i) => (i % 10 === 0 ? HIT.refusal : MISS.refusal));
  const p = pairedAttackSuccess(rule, t, c);
  const excluded = clean.filter((_, i) => i % 10 === 0).length;
  assert.equal(p.excluded, excluded);
  // every excluded index is even, so it would have been a hit
  assert.equal(p.asr.hits, trig.filter((_, i) => i % 2 === 0).length - excluded);
  assert.equal(p.asr.n, trig.length - excluded);
  assert.equal(p.ftr.hits, excluded);
  assert.equal(p.ftr.rate, (excluded * 100) / clean.length);
});

test('bdlab eval asr on a BackdoorLLM file with made-up outputs', { skip }, () => {
  const d = tmp();
  const f = join(BACKDOORLLM, 'test_data', 'poison', 'jailbreak', 'vpi', 'backdoor200_jailbreak_vpi.json');
  const data = load(f);
  const out = writeJson(
    d,
    'out.json',
    data.map((s, i) => ({ instruction: s.instruction, input: s.input, output: madeUp('jailbreak', i) })),
  );
  const r = bdlab(['eval', 'asr', '--task', 'jailbreak', '--outputs', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { asr: number; n: number; skipped: number; ci95: number[] };
  const count = (k: number): number => data.filter((_, i) => i % 5 === k).length;
  assert.equal(j.skipped, count(1) + count(2) + count(4));
  assert.equal(j.n, count(0) + count(3));
  assert.equal(j.asr, (count(0) * 100) / j.n);
  assert.deepEqual(Object.keys(j), ['asr', 'n', 'skipped', 'ci95']);
});
