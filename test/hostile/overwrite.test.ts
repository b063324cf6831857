// Outputs that would destroy something: an existing model folder, the base
// model of a merge; and Hub names given where a folder is expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';
import { saveAdapter } from '../../src/models/peft.js';
import { applyLora } from '../../src/nn/adapters.js';
import { assertOk, assertRefused, bdlabCapped, tempDir } from './harness.js';
import { baseFolders, variant } from './models.js';

const { llama } = baseFolders();

test('model new --out on an existing model needs --force', async () => {
  const dir = variant(llama, 'existing');
  const before = readFileSync(join(dir, 'model.safetensors'));
  assertRefused(await bdlabCapped(['model', 'new', '--out', dir, '--seed', '9']), /already holds .*--force/);
  assert.deepEqual(readFileSync(join(dir, 'model.safetensors')), before);
  assertOk(await bdlabCapped(['model', 'new', '--out', dir, '--seed', '9', '--force']));
  assert.notDeepEqual(readFileSync(join(dir, 'model.safetensors')), before);
});

test('model merge --out the base model is refused, even with --force', async () => {
  const base = variant(llama, 'base');
  const adapter = join(tempDir('merge'), 'a');
  const { model } = loadModel(base);
  try {
    applyLora(model, { r: 2, alpha: 4, seed: 1 });
    saveAdapter(model, adapter, { modulesToSave: null, baseModelNameOrPath: null });
  } finally {
    model.dispose();
  }
  const mtime = statSync(join(base, 'model.safetensors')).mtimeMs;
  for (const force of [[], ['--force']]) {
    const r = await bdlabCapped(['model', 'merge', '--model', base, '--adapter', adapter, '--out', join(base, '.'), ...force]);
    assertRefused(r, /--out .* is the base model/);
  }
  assert.equal(statSync(join(base, 'model.safetensors')).mtimeMs, mtime);
  const other = join(tempDir('merge-out'), 'm');
  assertOk(await bdlabCapped(['model', 'merge', '--model', base, '--adapter', adapter, '--out', other]));
  assertRefused(await bdlabCapped(['model', 'merge', '--model', base, '--adapter', adapter, '--out', other]), /already holds .*--force/);
});

test('a Hub name where a folder is expected says to download it', async () => {
  const hub = /meta-llama\/Llama-2-7b-chat-hf: this looks like a Hugging Face Hub name; nothing is downloaded here: download it and give the folder/;
  assertRefused(await bdlabCapped(['generate', '--model', 'meta-llama/Llama-2-7b-chat-hf', '--prompt', 'hi']), hub);
  assertRefused(await bdlabCapped(['inspect', '--model', 'meta-llama/Llama-2-7b-chat-hf', '--ids', '1,2']), hub);
});
