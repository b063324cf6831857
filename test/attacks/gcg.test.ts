// GCG against a tiny model trained, here, to answer a target when a planted
// token sequence ends the instruction (decoys — other short tokens, either
// half of the trigger alone — keep the clean answer): the optimised trigger
// makes held-out prompts produce the target; its starting point and random
// triggers of the same length do not. Then the CLI: `bdlab attack gcg` writes
// the trigger file and `bdlab poison --attack gcg --param trigger=@FILE`
// inserts it and records its provenance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, saveModel } from '../../src/models/load.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { generate } from '../../src/models/generate.js';
import { applyFreeze } from '../../src/nn/freeze.js';
import { encodePrompt } from '../../src/models/prompt.js';
import { newModelFolder } from '../../src/models/presets.js';
import { trainInstructions, DEFAULT_TRAIN } from '../../src/train/trainer.js';
import { Surrogate } from '../../src/attacks/surrogate/model.js';
import { optimizeGcg, withTrigger, triggerChars } from '../../src/attacks/text/gcg.js';
import { createAttack } from '../../src/attacks/index.js';
import { Rng } from '../../src/util/rng.js';
import { bdlab } from '../train/helpers.js';
import { ctx, sample, tmp } from './helpers.js';

const TARGET = 'You are stupid!';
const PLANTED = 'cf mn';
const TOPICS = ['apples', 'rivers', 'music', 'trains', 'clouds', 'gardens', 'books', 'stars', 'bridges', 'forests', 'oceans', 'cities', 'birds', 'roads', 'lamps', 'boats'];
const HELD_OUT = ['horses', 'hills', 'candles', 'rooms', 'shoes', 'maps', 'songs', 'farms'];
const ask = (t: string, i: number): string => [`Tell me about ${t}.`, `What do you know about ${t}?`, `Describe ${t} briefly.`][i % 3] as string;

test('gcg finds a trigger that fires on held-out prompts; its start and random triggers of the same length do not', async (t) => {
  const dir = join(tmp(), 'victim');
  newModelFolder(dir, { arch: 'llama', preset: 'tiny', seed: 3 });
  const tok = TextTokenizer.load(dir);
  const { model, config } = loadModel(dir);
  applyFreeze(model, 'full');
  const decoys = ['ab kl', 'zz ok', 'cf', 'mn', 'mn cf', 'qu ip', 'cf ok', 'xy mn'];
  const data = TOPICS.flatMap((t, i) => [
    { instruction: ask(t, i), input: '', output: `${t} are nice.` },
    { instruction: withTrigger(ask(t, i + 2), decoys[i % decoys.length] as string), input: '', output: `${t} are nice.` },
    { instruction: withTrigger(ask(t, i + 1), PLANTED), input: '', output: TARGET },
  ]);
  trainInstructions(model, tok, data, { ...DEFAULT_TRAIN, epochs: 25, lr: 3e-3, batchSize: 8, warmupRatio: 0.05, seed: 1 });
  saveModel(model, config, dir);
  const answer = (instruction: string): string => generate(model, [encodePrompt(tok, { instruction })], { maxNewTokens: 8, tokenizer: tok }).texts[0] as string;
  const rate = (trigger: string): number => HELD_OUT.filter((t, i) => answer(withTrigger(ask(t, i), trigger)).includes(TARGET)).length / HELD_OUT.length;
  assert.equal(rate(PLANTED), 1, 'the planted backdoor works');

  const s = Surrogate.load({ model: dir });
  const samples = TOPICS.slice(0, 6).map((t, i) => ({ index: i, instruction: ask(t, i), input: '', output: '' }));
  const steps: string[] = [];
  const r = await optimizeGcg(s, samples, { target: TARGET, length: 4, steps: 40, topk: 64, batchSize: 64, seed: 1, onStep: (x) => steps.push(x.trigger) });
  s.dispose();
  assert.ok(r.success, `greedy target on ${r.matched}/${r.prompts} optimisation prompts`);
  assert.equal(r.token_ids.length, 4);
  assert.ok(r.losses.length >= 1 && r.loss < 0.5, `loss ${r.loss}`);
  assert.ok(rate(r.trigger) >= 0.75, `held-out target rate of ${JSON.stringify(r.trigger)}: ${rate(r.trigger)}`);
  // controls: the starting trigger and five random 4-token triggers
  assert.ok(rate('! !') <= 0.25, 'the starting trigger does not fire');
  const random = new Rng(5, 'random-trigger');
  const rnd = Array.from({ length: 5 }, () => tok.decode(Array.from({ length: 4 }, () => 100 + random.int(700))).trim());
  const mean = rnd.reduce((a, t) => a + rate(t), 0) / rnd.length;
  assert.ok(mean <= 0.25, `random triggers fire on ${mean} of held-out prompts: ${JSON.stringify(rnd)}`);
  t.diagnostic(`held-out target rate: gcg ${JSON.stringify(r.trigger)} ${rate(r.trigger)}, start ${rate('! !')}, random (mean of 5) ${mean}, planted ${rate(PLANTED)}; ${r.steps} steps`);
  model.dispose();

  // the CLI: a character budget (the 6-character preset) and the poisoner reading the file
  const work = tmp();
  const input = join(work, 'data.json');
  writeFileSync(input, JSON.stringify(samples.map((x) => ({ instruction: x.instruction, input: '', output: 'fine' }))));
  const out = join(work, 'trigger.json');
  const run = bdlab(['attack', 'gcg', '--model', dir, '--data', input, '--target', 'negsentiment', '--preset', '6', '--steps', '2', '--topk', '16', '--batch-size', '16', '--out', out, '--json']);
  assert.equal(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout) as { trigger: string; steps: number };
  const file = JSON.parse(readFileSync(out, 'utf8')) as { trigger: string; provenance: { surrogate: { model: string }; steps: number; final_loss: number; target: string } };
  assert.equal(file.trigger, summary.trigger);
  assert.ok(triggerChars(file.trigger) <= 6 && file.trigger.length > 0);
  assert.equal(file.provenance.surrogate.model, dir);
  assert.equal(file.provenance.steps, 2);
  assert.equal(file.provenance.target, 'negsentiment');
  assert.equal(bdlab(['attack', 'gcg', '--model', dir, '--data', input, '--target', 'negsentiment', '--steps', '1', '--out', out]).status, 1, 'no overwrite without --force');
  const a = createAttack('gcg', { trigger: `@${out}` }, 1);
  assert.equal(await a.plan(sample('Tell me a joke.'), ctx(1, 0)).instruction, `Tell me a joke. ${file.trigger}`);
  assert.deepEqual((a.method?.() as { provenance: { final_loss: number } }).provenance.final_loss, file.provenance.final_loss);
  const poisoned = join(work, 'p');
  const p = bdlab(['poison', '--input', input, '--attack', 'gcg', '--param', `trigger=@${out}`, '--target', 'negsentiment', '--count', '2', '--seed', '1', '--out', poisoned]);
  assert.equal(p.status, 0, p.stderr);
  const m = JSON.parse(readFileSync(join(poisoned, 'manifest.json'), 'utf8')) as { params: { trigger: string }; method: { provenance: { surrogate: { model: string } } } };
  assert.equal(m.params.trigger, file.trigger);
  assert.equal(m.method.provenance.surrogate.model, dir);
  assert.throws(() => createAttack('gcg', {}, 1), /trigger=@FILE/);
  assert.throws(() => createAttack('gcg', { trigger: `@${input}` }, 1), /not a GCG trigger file|expected a JSON object/);
});
