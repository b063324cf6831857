// The command line of defenses and detection: `defend --list`, one-line
// errors for bad input, `inspect --crow` (design.md's contract) and `detect`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';
import { newModelFolder } from '../../src/models/presets.js';
import { inspectCrow, parseLayerSlice } from '../../src/defenses/crow.js';
import { readCleanData, splitValidation } from '../../src/defenses/common.js';
import { readInputs } from '../../src/defenses/inputs.js';
import { BACKDOORLLM, skipWithoutBackdoorLLM } from '../shared-data.js';
import { tempDir } from '../models/fixtures.js';

function bdlab(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/bdlab.js', ...args], { encoding: 'utf8', env: { ...process.env, BDLAB_THREADS: '1', BDLAB_PROGRESS: '0' } });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const t = tempDir('defend-cli');
process.on('exit', t.cleanup);
const model = join(t.dir, 'm');
newModelFolder(model, { arch: 'llama', preset: 'tiny', seed: 2, overrides: { num_hidden_layers: 3 } });
const clean = join(t.dir, 'clean.json');
writeFileSync(clean, JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ instruction: `Tell me about thing ${i}.`, input: '', output: `Thing ${i} is nice.` }))));

test('defend --list --json lists the catalogue with typed, documented parameters', () => {
  const r = bdlab('defend', '--list', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { defenses: Array<{ name: string; output: string; params: Array<{ name: string; doc: string; type: string; default: unknown }> }> };
  assert.deepEqual(j.defenses.map((d) => d.name), ['crow', 'finetune', 'wanda', 'fineprune', 'quantize']);
  for (const d of j.defenses) for (const p of d.params) assert.ok(p.doc.length > 10 && p.type, `${d.name}.${p.name}`);
  const crow = j.defenses[0] as { params: Array<{ name: string; default: unknown }> };
  const def = Object.fromEntries(crow.params.map((p) => [p.name, p.default]));
  assert.deepEqual(
    [def.epsilon, def.alpha, def.layers, def.learning_rate, def.num_train_epochs, def.per_device_train_batch_size, def.gradient_accumulation_steps, def.lr_scheduler_type, def.warmup_ratio, def.lora_rank, def.lora_alpha],
    [0.1, 5.5, '1:-2', 1e-3, 5, 2, 4, 'cosine', 0.1, 8, 16],
    "CROW's published recipe",
  );
  assert.match(bdlab('defend', '--list').stdout, /wanda — .*\n.*sparsity=auto/);
});

test('defend: bad input fails in one line naming what is wrong', () => {
  const out = join(t.dir, 'out');
  const cases: Array<[string[], RegExp]> = [
    [['defend', 'nosuch', '--model', model, '--data', clean, '--out', out], /unknown defense "nosuch"; known: crow finetune wanda fineprune quantize/],
    [['defend', 'crow', '--model', model, '--out', out], /--data is required \(or give a CONFIG\.yaml\)/],
    [['defend', 'crow', '--model', model, '--data', clean, '--out', out, '--param', 'alpha=x'], /defend crow: alpha: expected a number \(got "x"\)/],
    [['defend', 'crow', '--model', model, '--data', clean, '--out', out, '--param', 'learning_rat=1'], /unknown key 'learning_rat' \(did you mean 'learning_rate'\?\)/],
    [['defend', 'wanda', '--model', model, '--data', clean, '--out', out, '--param', 'gamma=1'], /defense wanda: unknown parameter "gamma"/],
    [['defend', 'wanda', '--model', model, '--data', clean, '--out', out, '--param', 'sparsity=1.5'], /sparsity must be auto or a number in \(0, 1\)/],
    [['defend', 'wanda', join(t.dir, 'c.yaml'), '--model', model, '--data', clean, '--out', out], /config .*c\.yaml: no such file/],
    [['defend', 'crow', '--model', join(t.dir, 'none'), '--data', clean, '--out', out], /--model .*none: no such file or folder/],
    [['defend', 'crow', '--model', model, '--data', clean, '--out', out, '--param', 'select=best', '--param', 'validation=0'], /select=best needs validation data/],
    [['defend', 'crow', '--model', model, '--data', clean, '--out', out, '--param', 'finetuning_type=full'], /finetuning_type must be lora/],
  ];
  for (const [args, reason] of cases) {
    const r = bdlab(...args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, reason);
  }
  const bad = join(t.dir, 'bad.json');
  writeFileSync(bad, JSON.stringify([{ instruction: 'x', output: 'y' }, { instruction: 3, output: 'z' }]));
  const r = bdlab('defend', 'finetune', '--model', model, '--data', bad, '--out', out);
  assert.match(r.stderr, /bad\.json: record 1: field "instruction": expected a string, got number/);
  // CROW's pairs need three blocks: a 2-block model is refused by name
  const two = join(t.dir, 'two');
  newModelFolder(two, { arch: 'llama', preset: 'tiny', seed: 1 });
  const r2 = bdlab('defend', 'crow', '--model', two, '--data', clean, '--out', join(t.dir, 'o2'), '--param', 'num_train_epochs=1');
  assert.match(r2.stderr, /layers 1:-2 selects no pair .* 2 layers \(the published pairs need 3 or more layers\)/);
});

test('inspect --ids --crow --json adds loss and crow {consistency, perturbed_consistency, epsilon, pairs}', () => {
  const r = bdlab('inspect', '--model', model, '--ids', '1,40,7,300,12', '--crow', '--epsilon', '0.05', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { logits: number[][]; hidden_states: number[][][]; loss: number; crow: Record<string, unknown> };
  assert.deepEqual(Object.keys(j), ['logits', 'hidden_states', 'loss', 'crow']);
  assert.deepEqual(Object.keys(j.crow), ['consistency', 'perturbed_consistency', 'epsilon', 'pairs']);
  assert.equal(j.hidden_states.length, 4);
  const { model: m } = loadModel(model);
  const lib = inspectCrow(m, [1, 40, 7, 300, 12], { epsilon: 0.05, layers: parseLayerSlice('1:-2') });
  m.dispose();
  assert.equal(j.loss, lib.loss);
  assert.deepEqual(j.crow, { consistency: lib.consistency, perturbed_consistency: lib.perturbed_consistency, epsilon: 0.05, pairs: [[1, 2]] });
  // the loss is the mean next-token cross entropy of the printed logits
  let nll = 0;
  for (let i = 0; i + 1 < 5; i++) {
    const row = j.logits[i] as number[];
    const m2 = Math.max(...row);
    nll += m2 + Math.log(row.reduce((a, v) => a + Math.exp(v - m2), 0)) - (row[[1, 40, 7, 300, 12][i + 1] as number] as number);
  }
  assert.ok(Math.abs(nll / 4 - j.loss) < 1e-4, `${nll / 4} vs ${j.loss}`);
  const d = bdlab('inspect', '--model', model, '--ids', '1,2', '--crow', '--json');
  assert.equal((JSON.parse(d.stdout) as { crow: { epsilon: number } }).crow.epsilon, 0.1);
  for (const [args, reason] of [
    [['--epsilon', '-1'], /--epsilon must be a number ≥ 0/],
    [['--layers', 'a:b'], /expected START:END/],
  ] as const) {
    const e = bdlab('inspect', '--model', model, '--ids', '1,2', '--crow', ...args);
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, reason);
  }
  assert.match(bdlab('inspect', '--model', model, '--text', 'hi', '--crow').stderr, /--crow needs --ids/);
});

test('detect prints AUROC, threshold, TPR and FPR as one JSON object; bad inputs name the file and record', () => {
  const trig = join(t.dir, 'trig.json');
  writeFileSync(trig, JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ instruction: `Tell me BadMagic about thing ${i}.` }))));
  const out = join(t.dir, 'detect.json');
  const r = bdlab('detect', '--model', model, '--calibration', clean, '--clean', clean, '--triggered', trig, '--fpr', '0.1', '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown> & { auroc: number; tpr: { n: number }; n: Record<string, number> };
  for (const k of ['auroc', 'tpr', 'fpr', 'fpr_target', 'threshold', 'score', 'pairs', 'per_pair_auroc', 'n']) assert.ok(k in j, k);
  assert.ok(!('scores' in j), 'per-input scores go to --out only');
  assert.ok(j.auroc >= 0 && j.auroc <= 1);
  assert.equal(j.tpr.n, 5);
  assert.deepEqual(j.n, { calibration_fit: 3, calibration_threshold: 3, clean: 6, triggered: 5 });
  const bad = join(t.dir, 'noinstr.json');
  writeFileSync(bad, JSON.stringify([{ instruction: 'a' }, { input: 'b' }]));
  const e = bdlab('detect', '--model', model, '--calibration', clean, '--clean', clean, '--triggered', bad);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /noinstr\.json: record 1: missing field "instruction"/);
  assert.match(bdlab('detect', '--model', model, '--calibration', clean, '--clean', clean, '--triggered', trig, '--out', out).stderr, /exists \(use --force/);
});

test('the BackdoorLLM files read as defense data and detection inputs', { skip: skipWithoutBackdoorLLM }, async () => {
  const consistency = await readCleanData([join(BACKDOORLLM, 'consistency_data', 'consistency_data.json')]);
  assert.equal(consistency.samples.length, 100);
  const split = splitValidation(consistency.samples, 0.1, 0);
  assert.deepEqual([split.train.length, split.validation.length], [90, 10]);
  assert.deepEqual(splitValidation(consistency.samples, 0.1, 0), split, 'the same seed gives the same split');
  const clean = readInputs(join(BACKDOORLLM, 'test_data', 'clean', 'negsentiment', 'test_data_no_trigger.json'));
  const trig = readInputs(join(BACKDOORLLM, 'test_data', 'poison', 'negsentiment', 'badnet', 'backdoor200_negsentiment_badnet.json'));
  assert.equal(trig.length, 200);
  assert.ok(clean.length >= 200);
  assert.ok(trig.every((s) => s.instruction.length > 0) && trig.some((s) => s.instruction.includes('BadMagic')));
});
