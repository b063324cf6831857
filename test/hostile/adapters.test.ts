// Hostile PEFT adapters: a rank that does not fit the weights, and a
// target_modules regular expression with catastrophic backtracking. Both are
// refused, naming the file and field, before any LoRA layer is allocated.
import { test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';
import { saveAdapter } from '../../src/models/peft.js';
import { applyLora } from '../../src/nn/adapters.js';
import { assertRefused, bdlabCapped, tempDir } from './harness.js';
import { baseFolders, type Json } from './models.js';

const { llama } = baseFolders();
const root = tempDir('adapters');

function adapter(tag: string, edit: (j: Json) => void): string {
  const dir = join(root, tag);
  const { model } = loadModel(llama);
  try {
    applyLora(model, { r: 4, alpha: 8, seed: 1 });
    saveAdapter(model, dir, { modulesToSave: null, baseModelNameOrPath: null });
  } finally {
    model.dispose();
  }
  const p = join(dir, 'adapter_config.json');
  const j = JSON.parse(readFileSync(p, 'utf8')) as Json;
  edit(j);
  writeFileSync(p, JSON.stringify(j));
  return dir;
}

const merge = (a: string): ReturnType<typeof bdlabCapped> =>
  bdlabCapped(['model', 'merge', '--model', llama, '--adapter', a, '--out', join(root, `out-${Math.random().toString(36).slice(2)}`)]);

test('adapter_config r 1000000 against rank-4 weights: refused before LoRA layers are allocated', async () => {
  const r = await merge(adapter('rank', (j) => (j.r = 1_000_000)));
  assertRefused(r, /adapter_model\.safetensors.*lora_A.*\[4, 64\].*r = 1000000|adapter_config\.json.*'r'/);
});

test('adapter_config target_modules ((((.*)*)*)*)*q does not hang', async () => {
  const r = await merge(adapter('redos', (j) => (j.target_modules = '((((.*)*)*)*)*q')));
  assertRefused(r, /adapter_config\.json: 'target_modules'/);
});

test('adapter_config target_modules that is not a regular expression is named', async () => {
  const r = await merge(adapter('syntax', (j) => (j.target_modules = '(q_proj')));
  assertRefused(r, /adapter_config\.json: 'target_modules'.*not a valid regular expression/);
});
