// Experiment specs: a bad field is named by its path (and line); the grid
// expands with sharing; every example validates and dry-runs; the docs name
// every field of the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpec } from '../../src/experiment/spec/load.js';
import { specReference } from '../../src/experiment/spec/reference.js';
import { buildPlan } from '../../src/experiment/plan.js';
import { statusOf } from '../../src/experiment/runner.js';
import { UserError } from '../../src/util/errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bdlab = join(root, 'bin', 'bdlab.js');
const dir = mkdtempSync(join(tmpdir(), 'bdlab-spec-'));
writeFileSync(join(dir, 'train.json'), JSON.stringify([{ instruction: 'Say hi.', input: '', output: 'Hi.' }]));
writeFileSync(join(dir, 'test.json'), JSON.stringify([{ instruction: 'Say bye.', input: '', output: 'Bye.' }]));

const BASE = `name: t
data: { train: train.json }
domains: [{ name: a, test: test.json }]
attacks: [{ name: badnet }]
victim:
  model: { path: model }
  training: { num_train_epochs: 1 }
`;

let n = 0;
function specFile(text: string): string {
  const p = join(dir, `spec${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

async function reason(text: string, sets: Record<string, string> = {}): Promise<string> {
  try {
    await loadSpec(specFile(text), sets);
  } catch (e) {
    assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    return e.message;
  }
  assert.fail(`the spec was accepted:\n${text}`);
}

test('a minimal spec loads with its defaults and absolute paths', async () => {
  const s = await loadSpec(specFile(BASE));
  assert.deepEqual(s.spec.seeds, [0]);
  assert.deepEqual(s.spec.rates, [0.1]);
  assert.deepEqual(s.spec.targets, ['negsentiment']);
  assert.equal(s.spec.data.train, join(dir, 'train.json'));
  assert.equal(s.spec.victim.model.path, join(dir, 'model'));
  assert.equal(s.spec.victim.training.finetuning_type, 'lora');
  assert.equal(s.spec.victim.training.lora_rank, 8);
  assert.equal(s.modality, 'text');
  assert.match(s.sha256, /^[0-9a-f]{64}$/);
});

test('an invalid spec names the bad field by its path and line', async () => {
  const cases: Array<[string, RegExp]> = [
    [BASE.replace('[{ name: badnet }]', '[{ name: badnet }, { name: vpi }, { name: ctba, params: { trigger1: 7 } }]'), /:4: attacks\[2\]\.params: unknown parameter "trigger1"/],
    [BASE.replace('[{ name: badnet }]', '[{ name: badnet }, { name: vpi }, { name: mtba, params: { triggers: { a: 1 } } }]'), /attacks\[2\]\.params\.triggers: expected a number, a string, true or false or a list, got a mapping/],
    [BASE.replace('[{ name: badnet }]', '[{ name: badnett }]'), /:4: attacks\[0\]\.name: unknown attack "badnett"; text: badnet vpi/],
    [BASE.replace('[{ name: badnet }]', '[{ name: blended, params: { alpha: high } }]'), /attacks\[0\]\.params\.alpha: expected a number, got the text "high"/],
    [BASE.replace('[{ name: badnet }]', '[{ name: blended, params: { alpha: 7 } }]'), /attacks\[0\]\.params\.alpha: must be ≤ 1/],
    [BASE + 'rates: [0.1, 2]\n', /:8: rates\[1\]: must be ≤ 1/],
    [BASE + 'rates: [0.1, 0.1]\n', /rates\[1\]: "0\.1" appears twice/],
    [BASE + 'seeds: [-1]\n', /seeds\[0\]: must be ≥ 0/],
    [BASE + 'extra: 1\n', /\(top level\): unknown field "extra"/],
    [BASE.replace('{ num_train_epochs: 1 }', '{ num_train_epochs: 1, learning_rate: fast }'), /:7: victim\.training\.learning_rate: expected a number, got the text "fast"/],
    [BASE.replace('{ num_train_epochs: 1 }', '{ lora_rank: 0 }'), /victim\.training\.lora_rank: must be at least 1/],
    [BASE.replace('{ num_train_epochs: 1 }', '{ save_steps: 10 }'), /victim\.training: save_steps: not set in a spec \(an interrupted stage runs again/],
    [BASE.replace('[{ name: badnet }]', '[{ name: badnet, probes: [{ label: near, name: badnett }] }]'), /attacks\[0\]\.probes\[0\]\.name: unknown attack "badnett"/],
    [BASE.replace('[{ name: badnet }]', '[{ name: badnet, probes: [{ label: near, params: { trigger1: x } }] }]'), /attacks\[0\]\.probes\[0\]\.params: unknown parameter "trigger1"/],
    [BASE.replace('{ num_train_epochs: 1 }', '{ model_name_or_path: x }'), /victim\.training: model_name_or_path: not set in a spec \(the pipeline passes the model/],
    [BASE.replace('{ num_train_epochs: 1 }', '{ deepspeed: ds.json }'), /victim\.training: unknown field "deepspeed"/],
    [BASE.replace('{ num_train_epochs: 1 }', '{ lr_scheduler_type: wavy }'), /victim\.training\.lr_scheduler_type: expected one of "cosine", "linear", "constant", "constant_with_warmup", got the text "wavy"/],
    [BASE + 'targets: [banana]\n', /targets\[0\]: unknown target "banana"/],
    [BASE + 'targets: [keep]\n', /targets\[0\]: target "keep" changes no answer/],
    [BASE.replace('test.json }]', 'test.json, from: a }]'), /domains\[0\]: give exactly one of world, test or from/],
    [BASE.replace('test.json }]', 'test.json }, { name: b, from: a, shift: { question: shorter } }]'), /domains\[1\]\.shift\.question: unknown rewrite "shorter"/],
    [BASE.replace('test.json }]', 'test.json }, { name: b, from: a, shift: { image_styles: [cartoon] } }]'), /domains\[1\]\.shift\.image_styles: the data have no images/],
    [BASE.replace('model: { path: model }', 'model: { path: "{weights}/model" }'), /victim\.model\.path: unknown placeholder \{weights\} \(define it under vars, or pass --set weights=/],
    [BASE.replace('model: { path: model }', 'model: { preset: tiny }'), /victim\.base_training: a generated model knows nothing yet/],
    [BASE + 'evaluations: [clean_accuracy]\n', /evaluations\[0\]\.name: clean_accuracy needs a domain with a utility set/],
    [BASE + 'evaluations: [asr, speed]\n', /evaluations\[1\]\.name: expected one of "asr", "clean_accuracy"/],
    [BASE + 'defenses: [{ name: crow, targets: [refusal] }]\n', /defenses\[0\]\.targets\[0\]: no attack of this spec has target "refusal"/],
    [BASE + 'defenses: [{ name: crow }, { name: crow, params: { alpha: 11 } }]\n', /defenses\[1\]\.name: defenses\[0\] is also called "crow"/],
    [BASE.replace('[{ name: badnet }]', '[{ name: badnet }, { name: badnet, params: { trigger: cf } }]'), /attacks\[1\]\.name: attacks\[0\] is also called "badnet"; give each entry its own label/],
    [BASE.replace('[{ name: badnet }]', '[{ name: badnets }]'), /attacks\[0\]\.name: badnets is an image attack, but the data are text/],
    [BASE.replace('data: { train: train.json }', 'data: {}'), /:2: data: give data\.world or data\.train: attacks\[0\] poisons the training set/],
    [BASE.replace('victim:', 'victim:\n  base_training: {}\n  extra: 1'), /victim: unknown field "extra"/],
    ['name: t\ndata: [1\n', /spec\d+\.yaml:\d+: not valid YAML/],
    ['- 1\n', /expected a mapping of spec fields/],
    [BASE.replace('name: t', 'name: "Bad Name"'), /:1: name: spec name: lower-case letters/],
  ];
  for (const [text, want] of cases) assert.match(await reason(text), want);
});

test('--set overrides a variable; placeholders fill paths', async () => {
  const text = BASE.replace('model: { path: model }', 'model: { path: "{root}/model" }') + 'vars: { root: here }\n';
  assert.equal((await loadSpec(specFile(text))).spec.victim.model.path, join(dir, 'here', 'model'));
  assert.equal((await loadSpec(specFile(text), { root: '/abs' })).spec.victim.model.path, '/abs/model');
});

test('the grid expands with sharing: one clean base per seed, triggers independent of the rate', async () => {
  const s = await loadSpec(
    specFile(`name: grid
seeds: [0, 1]
data: { world: { name: instructions } }
attacks: [{ name: badnet }, { name: ctba }]
rates: [0.05, 0.1, 0.2]
victim:
  model: { preset: tiny }
  base_training: { finetuning_type: full }
  training: {}
defenses: [{ name: crow }, { name: finetune }]
evaluations: [asr, clean_accuracy]
`),
  );
  const plan = buildPlan(s);
  const count = (kind: string, prefix = ''): number => plan.nodes.filter((x) => x.kind === kind && x.id.startsWith(`${kind}/${prefix}`)).length;
  assert.equal(count('world'), 1);
  assert.equal(count('model'), 2);
  assert.equal(count('train', 'base/'), 2, 'the clean base once per seed');
  assert.equal(count('poison'), 2 * 3 * 2, 'attacks × rates × seeds');
  assert.equal(count('train', 'victim/'), 12);
  assert.equal(count('trigger'), 2 * 2 * 2, 'attacks × domains × seeds, not × rates');
  assert.equal(count('defend'), 12 * 2);
  const models = 2 + 12 + 24;
  assert.equal(plan.models.length, models);
  // each model answers each domain's clean inputs once (they are the utility set too: the world's test items carry answers), and its attack's triggered inputs (the clean one: both attacks')
  assert.equal(count('generate'), 2 * 2 * (1 + 2) + (models - 2) * 2 * 2);
  assert.equal(plan.asr.length, 2 * 2 * 2 + (models - 2) * 2);
  const ids = new Set(plan.nodes.map((x) => x.id));
  assert.equal(ids.size, plan.nodes.length, 'stage ids are unique');
  const seen = new Set<string>();
  for (const node of plan.nodes) {
    for (const ref of Object.values(node.inputs)) if (ref.node) assert.ok(seen.has(ref.node), `${node.id}: input ${ref.node} comes first`);
    seen.add(node.id);
  }
  const st = statusOf(plan, join(dir, 'never-created'));
  assert.equal(st.filter((x) => x.state === 'unavailable' || x.state === 'blocked').length, 0, 'every stage kind of a text study is in this build');
  assert.equal(st.filter((x) => x.state === 'run').length, 3, 'the world and the two models can start now');
});

test('every example spec validates, and --dry-run lists its stages (unavailable ones named as such)', () => {
  const files = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const r = spawnSync(process.execPath, [bdlab, 'run', join(root, 'examples', f), '--dry-run', '--json', '--out', join(dir, `dry-${f}`)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { stages: Array<{ id: string; state: string; reason: string | null }> };
    assert.ok(out.stages.length > 10, f);
    for (const s of out.stages.filter((x) => x.state === 'unavailable')) assert.match(s.reason ?? '', /not available in this build/, `${f}: ${s.id}`);
  }
  const run = spawnSync(process.execPath, [bdlab, 'run', join(root, 'examples', 'crow-backdoorllm.yaml'), '--out', join(dir, 'crow')], { encoding: 'utf8' });
  assert.equal(run.status, 1);
  // the checkpoint is never here; without ../shared/data beside the checkout the data files are named first
  assert.match(run.stderr, /^bdlab: (victim\.model\.path: .*models\/Llama-2-7b-chat-hf|domains\[\d+\]\.test: .*\.json): no such file or folder\n$/);
});

test('docs/experiments.md holds the current field reference, and its example spec validates', async () => {
  const doc = readFileSync(join(root, 'docs', 'experiments.md'), 'utf8');
  const m = /<!-- spec-reference:start -->\n([\s\S]*?)\n<!-- spec-reference:end -->/.exec(doc);
  assert.ok(m, 'the reference markers');
  assert.equal(m[1], specReference(), 'docs/experiments.md is out of date: paste in specReference()');
  const example = /## A spec\n\n```yaml\n([\s\S]*?)```/.exec(doc);
  assert.ok(example);
  const loaded = await loadSpec(specFile(example[1] as string));
  assert.equal(buildPlan(loaded).nodes.filter((x) => x.kind === 'defend').length, 2 * 2 * 2);
});
