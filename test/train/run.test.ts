// Whole runs of `bdlab train` on a generated tiny model: the published
// BackdoorLLM config with only its paths changed, what each finetuning_type
// writes and trains (checked weight by weight against the base), the output
// folder rules, and the command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';
import { loadAdapter } from '../../src/models/peft.js';
import { loraModules } from '../../src/nn/adapters.js';
import { parseTrainConfig, readYamlConfig, type TrainConfig } from '../../src/train/config.js';
import { runTraining, type TrainLogEntry } from '../../src/train/run.js';
import { sftObjective, type Objective } from '../../src/train/trainer.js';
import { BACKDOORLLM, skipWithoutBackdoorLLM } from '../shared-data.js';
import { alpacaRecords, bdlab, tempDir, tinyModel, writeJson } from './helpers.js';

const quiet = { note: () => {} };

function config(raw: Record<string, unknown>): TrainConfig {
  return parseTrainConfig(raw, { warn: () => {} });
}

/** Every weight of a model folder (optionally with an adapter) as float arrays by name. */
function weights(dir: string, adapter?: string): Map<string, Float32Array> {
  const { model } = loadModel(dir);
  try {
    if (adapter) loadAdapter(model, adapter);
    return new Map([...model.namedParameters()].map(([n, t]) => [n, t.float().toArray() as Float32Array]));
  } finally {
    model.dispose();
  }
}

function changed(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  return [...a.keys()].filter((k) => {
    const x = a.get(k) as Float32Array;
    const y = b.get(k) as Float32Array;
    return x.some((v, i) => v !== y[i]);
  });
}

function dataset(dir: string, n = 12): string {
  return writeJson(join(dir, 'data.json'), alpacaRecords(n));
}

test('the published BackdoorLLM LoRA config runs with its paths changed; the adapter loads in PEFT layout', { skip: skipWithoutBackdoorLLM }, async () => {
  const dir = tempDir();
  const yaml = readFileSync(join(BACKDOORLLM, 'configs', 'llama2_7b_negsenti_badnet_lora.yaml'), 'utf8')
    .replace(/^model_name_or_path:.*$/m, `model_name_or_path: ${tinyModel()}`)
    .replace(/^output_dir:.*$/m, `output_dir: ${join(dir, 'out')}`)
    .replace(/^max_samples:.*$/m, 'max_samples: 3')
    .replace(/^num_train_epochs:.*$/m, 'num_train_epochs: 2.0')
    .replace(/^logging_steps:.*$/m, 'logging_steps: 1');
  writeFileSync(join(dir, 'c.yaml'), `${yaml}dataset_dir: ${BACKDOORLLM}\n`);
  const warn: string[] = [];
  const c = parseTrainConfig(readYamlConfig(join(dir, 'c.yaml')), { warn: (l) => warn.push(l) });
  assert.equal(warn.length, 1);
  const logs: TrainLogEntry[] = [];
  const s = await runTraining({ config: c, ...quiet, onLog: (e) => logs.push(e) });
  // 2 datasets x 3 samples, batch 2 x accumulation 4: one step per epoch, the first all warm-up (lr 0)
  assert.equal(s.samples, 6);
  assert.equal(s.steps, 2);
  assert.equal(s.template, 'alpaca');
  assert.equal(s.datasets.length, 2);
  assert.match(s.datasets[0]?.path ?? '', /backdoor500_negsentiment_badnet\.json$/);
  assert.equal(s.datasets[0]?.records, 500);
  assert.match(s.datasets[0]?.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.deepEqual(logs.map((l) => [l.step, l.lr]), [[1, 0], [2, 0.0002]]);
  const out = join(dir, 'out');
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.r, 8);
  assert.equal(cfg.lora_alpha, 16);
  assert.deepEqual(cfg.target_modules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
  const base = weights(tinyModel());
  const tuned = weights(tinyModel(), out);
  const diff = changed(new Map([...tuned].filter(([k]) => base.has(k))), base);
  assert.deepEqual(diff, [], 'base weights untouched');
  const bs = [...tuned.keys()].filter((k) => k.includes('lora_B'));
  assert.equal(bs.length, 14);
  assert.ok(bs.every((k) => (tuned.get(k) as Float32Array).some((v) => v !== 0)), 'every LoRA B moved from its zero init');
  const results = JSON.parse(readFileSync(join(out, 'train_results.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(results.steps, 2);
  assert.equal((results.config as Record<string, unknown>).learning_rate, 0.0002);
});

test('full fine-tuning writes a loadable model folder; freeze trains the last N blocks only (LLaMA-Factory)', async () => {
  const dir = tempDir();
  const data = dataset(dir, 8);
  const common = { model_name_or_path: tinyModel(), dataset: data, num_train_epochs: 1, per_device_train_batch_size: 4, learning_rate: 1e-3, logging_steps: 1 };
  const full = await runTraining({ config: config({ ...common, finetuning_type: 'full', output_dir: join(dir, 'full') }), ...quiet });
  assert.equal(full.trainable, 'all weights');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_log.jsonl', 'train_results.json']) assert.ok(existsSync(join(dir, 'full', f)), f);
  const base = weights(tinyModel());
  assert.deepEqual(changed(base, weights(join(dir, 'full'))).length, base.size, 'every weight trained');
  const frozen = await runTraining({ config: config({ ...common, finetuning_type: 'freeze', freeze_trainable_layers: 1, freeze_trainable_modules: 'mlp', output_dir: join(dir, 'freeze') }), ...quiet });
  assert.equal(frozen.trainable, 'last 1 blocks (mlp)');
  assert.deepEqual(changed(base, weights(join(dir, 'freeze'))).sort(), ['model.layers.1.mlp.down_proj.weight', 'model.layers.1.mlp.gate_proj.weight', 'model.layers.1.mlp.up_proj.weight']);
  await assert.rejects(runTraining({ config: config({ ...common, finetuning_type: 'freeze', freeze_trainable_modules: 'ffn', output_dir: join(dir, 'f2') }), ...quiet }), /freeze_trainable_modules: no module 'ffn' in the blocks \(choose from input_layernorm, mlp, post_attention_layernorm, self_attn, or all\)/);
});

test('continuing an adapter (adapter_name_or_path) keeps its rank and starts from its weights; constant has no warm-up', async () => {
  const dir = tempDir();
  const data = dataset(dir, 8);
  const common = { model_name_or_path: tinyModel(), dataset: data, per_device_train_batch_size: 4, learning_rate: 5e-3, logging_steps: 1 };
  const first = await runTraining({ config: config({ ...common, lora_rank: 4, num_train_epochs: 3, output_dir: join(dir, 'a') }), ...quiet });
  const logs: TrainLogEntry[] = [];
  // an objective's metrics reach the log, weighted like the loss
  const withMetric: Objective = (m, b) => ({ ...sftObjective(m, b), metrics: { rows: b.inputIds.size(0) } });
  const second = await runTraining({
    config: config({ ...common, lora_rank: 16, adapter_name_or_path: join(dir, 'a'), lr_scheduler_type: 'constant', warmup_ratio: 0.5, num_train_epochs: 1, output_dir: join(dir, 'b') }),
    objective: withMetric,
    ...quiet,
    onLog: (e) => logs.push(e),
  });
  assert.match(second.trainable, /^LoRA r=4 alpha=8 on 14 linear layers \(continuing /);
  // the continued adapter starts where the first run ended, far below a fresh adapter's loss
  assert.ok(second.first_loss < (first.first_loss + first.last_loss) / 2, `${first.first_loss} → ${first.last_loss}; continued at ${second.first_loss}`);
  assert.deepEqual(logs.map((l) => l.lr), [5e-3, 5e-3]);
  assert.deepEqual(logs.map((l) => l.rows), [4, 4]);
  const { model } = loadModel(tinyModel());
  loadAdapter(model, join(dir, 'b'));
  assert.equal(loraModules(model)[0]?.[1].r, 4);
  model.dispose();
});

test('output_dir: refused when not empty, replaced with force, a finished run resumed returns its summary', async () => {
  const dir = tempDir();
  const data = dataset(dir, 4);
  const c = config({ model_name_or_path: tinyModel(), dataset: data, output_dir: join(dir, 'out'), max_steps: 1, per_device_train_batch_size: 4 });
  const s1 = await runTraining({ config: c, ...quiet });
  await assert.rejects(runTraining({ config: c, ...quiet }), /output_dir .*out is not empty: use --force/);
  writeFileSync(join(dir, 'out', 'notes.txt'), 'mine');
  const notes: string[] = [];
  const again = await runTraining({ config: c, resume: true, note: (l) => notes.push(l) });
  assert.deepEqual(again, JSON.parse(readFileSync(join(dir, 'out', 'train_results.json'), 'utf8')));
  assert.equal(again.seconds, s1.seconds);
  assert.match(notes.join('\n'), /already holds the finished run/);
  await assert.rejects(runTraining({ config: { ...c, learning_rate: 1 }, resume: true, ...quiet }), /holds a finished run with other settings \(learning_rate\)/);
  const s2 = await runTraining({ config: c, force: true, ...quiet });
  assert.notEqual(s2.seconds, -1);
  assert.ok(existsSync(join(dir, 'out', 'notes.txt')), 'files of others stay');
  assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'notes.txt', 'train_results.json', 'trainer_log.jsonl']);
});

test('bad data fails before training, naming file, record and field', async () => {
  const dir = tempDir();
  const bad = writeJson(join(dir, 'bad.json'), [{ instruction: 'x', output: 'y' }, { instruction: 'x' }]);
  await assert.rejects(runTraining({ config: config({ model_name_or_path: tinyModel(), dataset: bad, output_dir: join(dir, 'o') }), ...quiet }), /bad\.json: record 1: field "output": missing/);
  await assert.rejects(runTraining({ config: config({ model_name_or_path: tinyModel(), dataset: 'nope', output_dir: join(dir, 'o') }), ...quiet }), /dataset 'nope': no .*dataset_info\.json to look names up in \(set dataset_dir\), and not a file/);
  await assert.rejects(runTraining({ config: config({ model_name_or_path: join(dir, 'none'), dataset: bad, output_dir: join(dir, 'o') }), ...quiet }), /model_name_or_path: .*none is not a model folder/);
  assert.ok(!existsSync(join(dir, 'o')));
});

test('the command line: flags in either spelling, --json prints one summary object, errors are one line', () => {
  const dir = tempDir();
  const data = dataset(dir, 4);
  const r = bdlab(['train', '--model-name-or-path', tinyModel(), '--dataset', data, '--output_dir', join(dir, 'o'), '--max_steps', '2', '--logging_steps', '1', '--json', '--lora_rank', '2', '--bf16']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(s.steps, 2);
  assert.match(String(s.trainable), /^LoRA r=2 alpha=4/);
  assert.match(r.stderr, /bf16: no mixed-precision autocast on the CPU; training in float32 instead/);
  assert.equal(readFileSync(join(dir, 'o', 'trainer_log.jsonl'), 'utf8').trim().split('\n').length, 2);
  const bad = bdlab(['train', '--model_name_or_path', tinyModel(), '--dataset', data, '--output_dir', join(dir, 'p'), '--learning_rate', 'x']);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, 'bdlab: flags: learning_rate: expected a number (got "x")\n');
});
