// bdlab train's configuration: LLaMA-Factory keys validated by the schema, the
// published configs accepted with their harmless extras named in one warning,
// and every bad key or value refused with a message naming it and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseConfigFlags, parseTrainConfig, readTrainConfig, readYamlConfig } from '../../src/train/config.js';
import { BACKDOORLLM, skipWithoutBackdoorLLM } from '../shared-data.js';

const MIN = { model_name_or_path: 'm', dataset: 'd.json', output_dir: 'out' };

function parse(raw: Record<string, unknown>, warn: string[] = []): ReturnType<typeof parseTrainConfig> {
  return parseTrainConfig(raw, { source: 'cfg.yaml', warn: (l) => warn.push(l) });
}

function refusal(raw: Record<string, unknown>): string {
  try {
    parse(raw);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`accepted ${JSON.stringify(raw)}`);
}

test('the published BackdoorLLM config parses; its extras are named in one warning line', { skip: skipWithoutBackdoorLLM }, () => {
  const path = join(BACKDOORLLM, 'configs', 'llama2_7b_negsenti_badnet_lora.yaml');
  const warn: string[] = [];
  const c = parseTrainConfig(readYamlConfig(path), { warn: (l) => warn.push(l) });
  assert.equal(c.finetuning_type, 'lora');
  assert.deepEqual(c.lora_target, ['all']);
  assert.deepEqual(c.dataset, ['negsenti_badnet', 'none_negsenti_badnet']);
  assert.equal(c.template, 'alpaca');
  assert.equal(c.cutoff_len, 1024);
  assert.equal(c.max_samples, 1000);
  assert.equal(c.per_device_train_batch_size, 2);
  assert.equal(c.gradient_accumulation_steps, 4);
  assert.equal(c.learning_rate, 0.0002);
  assert.equal(c.num_train_epochs, 5);
  assert.equal(c.lr_scheduler_type, 'cosine');
  assert.equal(c.warmup_ratio, 0.1);
  assert.equal(c.fp16, true);
  assert.equal(c.save_steps, 100);
  assert.equal(c.overwrite_output_dir, true);
  assert.equal(warn.length, 1);
  for (const k of ['deepspeed', 'ddp_timeout', 'preprocessing_num_workers', 'overwrite_cache', 'plot_loss']) assert.match(warn[0] as string, new RegExp(k));
  const crow = parseTrainConfig(readYamlConfig(join(BACKDOORLLM, 'configs', 'llama2_7b_consistency_negsenti_badnet_lora.yaml')), { warn: () => {} });
  assert.equal(crow.learning_rate, 0.001);
  assert.match(crow.adapter_name_or_path ?? '', /badnet$/);
});

test('defaults are LLaMA-Factory / transformers defaults', () => {
  const warn: string[] = [];
  const c = parse(MIN, warn);
  assert.equal(warn.length, 0);
  assert.equal(c.finetuning_type, 'lora');
  assert.equal(c.lora_rank, 8);
  assert.equal(c.lora_alpha, null);
  assert.equal(c.template, 'auto');
  assert.equal(c.learning_rate, 5e-5);
  assert.equal(c.num_train_epochs, 3);
  assert.equal(c.lr_scheduler_type, 'linear');
  assert.equal(c.per_device_train_batch_size, 8);
  assert.equal(c.max_grad_norm, 1);
  assert.equal(c.seed, 42);
  assert.equal(c.stage, 'sft');
  assert.equal(c.max_samples, null);
});

test('an invalid value names the key and why', () => {
  assert.match(refusal({ ...MIN, learning_rate: 'fast' }), /^cfg\.yaml: learning_rate: expected a number \(got "fast"\)/);
  assert.match(refusal({ ...MIN, learning_rate: -1 }), /learning_rate: must be greater than 0/);
  assert.match(refusal({ ...MIN, lora_rank: 2.5 }), /lora_rank: expected a whole number/);
  assert.match(refusal({ ...MIN, lora_dropout: 1 }), /lora_dropout: must be in \[0, 1\)/);
  assert.match(refusal({ ...MIN, finetuning_type: 'qlora' }), /finetuning_type: expected one of lora, full, freeze \(got "qlora"\)/);
  assert.match(refusal({ ...MIN, lr_scheduler_type: 'polynomial' }), /lr_scheduler_type: expected one of cosine, linear, constant, constant_with_warmup/);
  assert.match(refusal({ ...MIN, template: 'llama2' }), /template: unknown template \(known: auto, alpaca, chat, default/);
  assert.match(refusal({ ...MIN, stage: 'dpo' }), /stage: only sft/);
  assert.match(refusal({ ...MIN, bf16: 'yes' }), /bf16: expected true or false/);
  assert.match(refusal({ ...MIN, freeze_trainable_layers: 0 }), /freeze_trainable_layers: must not be 0/);
  assert.match(refusal({ ...MIN, bf16: true, fp16: true }), /bf16 and fp16: choose one/);
  assert.match(refusal({ ...MIN, do_train: false }), /do_train: false/);
  assert.match(refusal({ dataset: 'd.json', output_dir: 'o' }), /model_name_or_path: required/);
  assert.match(refusal({ ...MIN, adapter_name_or_path: 'a,b' }), /adapter_name_or_path: one adapter/);
});

test('unknown keys are an error naming them and the closest known key', () => {
  assert.match(refusal({ ...MIN, lora_rnak: 8 }), /unknown key 'lora_rnak' \(did you mean 'lora_rank'\?\)/);
  assert.match(refusal({ ...MIN, learning_rat: 1e-3, zzz: 1 }), /unknown keys 'learning_rat' \(did you mean 'learning_rate'\?\), 'zzz'$/);
});

test('ignored keys warn once; ones that would change training are refused unless at their default', () => {
  const warn: string[] = [];
  parse({ ...MIN, deepspeed: 'ds.json', report_to: 'none', val_size: 0, packing: false }, warn);
  assert.deepEqual(warn, ['bdlab train: ignoring keys that do not change training here: deepspeed, report_to, val_size, packing']);
  assert.match(refusal({ ...MIN, val_size: 0.1 }), /val_size: 0\.1 is not supported/);
  assert.match(refusal({ ...MIN, quantization_bit: 4 }), /quantization_bit: 4 is not supported/);
  assert.match(refusal({ ...MIN, optim: 'sgd' }), /optim: "sgd" is not supported/);
});

test('flags: --key value, --key=value, kebab-case, bare booleans; flags win over the file', () => {
  const { flags, positional } = parseConfigFlags(['cfg.yaml', '--learning-rate', '1e-3', '--bf16', '--lora_target=q_proj,v_proj', '--num_train_epochs', '0.5']);
  assert.deepEqual(positional, ['cfg.yaml']);
  assert.deepEqual(flags, { learning_rate: '1e-3', bf16: true, lora_target: 'q_proj,v_proj', num_train_epochs: '0.5' });
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-cfg-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'model_name_or_path: m\ndataset: a, b\noutput_dir: o\nlearning_rate: 2.0e-4\n');
  const c = readTrainConfig({ file, flags }, { warn: () => {} });
  assert.equal(c.learning_rate, 1e-3);
  assert.equal(c.bf16, true);
  assert.deepEqual(c.lora_target, ['q_proj', 'v_proj']);
  assert.equal(c.num_train_epochs, 0.5);
  assert.deepEqual(c.dataset, ['a', 'b']);
  assert.throws(() => parseConfigFlags(['--seed', '1', '--seed', '2']), /--seed given twice/);
  writeFileSync(file, 'model_name_or_path: [unclosed\n');
  assert.throws(() => readYamlConfig(file), /c\.yaml: not valid YAML at line/);
  assert.throws(() => readYamlConfig(join(dir, 'missing.yaml')), /missing\.yaml: cannot read \(ENOENT\)/);
  assert.ok(existsSync(dir));
});

test('other commands extend the schema with their own keys', () => {
  const extraKeys = { alpha: z.number().positive({ error: 'must be greater than 0' }).default(5.5), epsilon: z.number().default(0.1) };
  const c = parseTrainConfig({ ...MIN, alpha: 11 }, { extraKeys, warn: () => {} });
  assert.equal(c.alpha, 11);
  assert.equal(c.epsilon, 0.1);
  assert.equal(c.lora_rank, 8);
  assert.throws(() => parseTrainConfig({ ...MIN, alpha: -1 }, { extraKeys }), /alpha: must be greater than 0/);
  assert.throws(() => parseTrainConfig({ ...MIN, alpah: 1 }, { extraKeys }), /did you mean 'alpha'/);
  assert.throws(() => parseTrainConfig({ ...MIN, alpha: 1 }), /unknown key 'alpha'/);
});
