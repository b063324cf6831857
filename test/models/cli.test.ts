// The command line: `bdlab model new` writes loadable folders, and
// `bdlab inspect --ids --json` prints exactly the design.md contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, scope, tensor, type Tensor } from '../../src/engine/index.js';
import { loadModel } from '../../src/models/load.js';
import { tempDir } from './fixtures.js';

function bdlab(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/bdlab.js', ...args], { encoding: 'utf8', env: { ...process.env, BDLAB_THREADS: '1' } });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const t = tempDir('cli');
process.on('exit', t.cleanup);
const llama = join(t.dir, 'llama');

test('model new writes a Hugging Face folder and prints one JSON object', () => {
  const r = bdlab('model', 'new', '--arch', 'llama', '--preset', 'tiny', '--out', llama, '--seed', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { parameters: number; files: string[] };
  assert.ok(j.parameters > 100_000);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(existsSync(join(llama, f)), f);
  const bad = bdlab('model', 'new', '--arch', 'gpt', '--out', join(t.dir, 'x'));
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--arch must be one of llama, llava/);
});

test('inspect --ids --json prints {logits [T][V], hidden_states [L+1][T][d]} matching the library', () => {
  const noTok = join(t.dir, 'no-tokenizer');
  assert.equal(bdlab('model', 'new', '--out', noTok, '--seed', '4').code, 0);
  rmSync(join(noTok, 'tokenizer.json'));
  rmSync(join(noTok, 'tokenizer_config.json'));
  const r = bdlab('inspect', '--model', noTok, '--ids', '1,2,3,40', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  const j = JSON.parse(r.stdout) as { logits: number[][]; hidden_states: number[][][] };
  assert.deepEqual(Object.keys(j), ['logits', 'hidden_states']);
  assert.equal(j.logits.length, 4);
  assert.equal(j.hidden_states.length, 3);
  assert.equal(j.hidden_states[0]?.length, 4);
  assert.equal(j.hidden_states[0]?.[0]?.length, 64);
  const { model } = loadModel(noTok);
  noGrad(() =>
    scope(() => {
      const out = model.forward({ inputIds: tensor([[1, 2, 3, 40]], { dtype: 'int64' }), outputHiddenStates: true });
      assert.deepEqual(j.logits, out.logits.select(0, 0).tolist());
      assert.deepEqual(j.hidden_states[2], (out.hiddenStates as Tensor[])[2]?.select(0, 0).tolist());
    }),
  );
  model.dispose();
  const bad = bdlab('inspect', '--model', noTok, '--ids', '1,x', '--json');
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /--ids must be comma-separated/);
  assert.match(bdlab('inspect', '--model', noTok, '--ids', '5000', '--json').stderr, /outside the vocabulary/);
});

test('inspect --text reports per-layer cosine similarity', () => {
  const r = bdlab('inspect', '--model', llama, '--text', 'Describe the image.', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { cosine: number[]; ids: number[]; per_token: number[][] };
  assert.equal(j.cosine.length, 2);
  assert.ok(j.cosine.every((c) => c > -1 && c <= 1));
  assert.equal(j.per_token[0]?.length, j.ids.length);
  const human = bdlab('inspect', '--model', llama, '--text', 'hi', '--raw');
  assert.match(human.stdout, /h0 -> h1/);
});

test('generate prints one JSON object with an output per prompt; greedy is deterministic', () => {
  const args = ['generate', '--model', llama, '--prompt', 'Hello', '--prompt', 'Name three colors.', '--max-new-tokens', '6', '--json'];
  const a = bdlab(...args);
  assert.equal(a.code, 0, a.stderr);
  const j = JSON.parse(a.stdout) as { outputs: Array<{ instruction: string; output: string; finish_reason: string; new_tokens: number }> };
  assert.equal(j.outputs.length, 2);
  assert.equal(j.outputs[1]?.instruction, 'Name three colors.');
  assert.ok(j.outputs.every((x) => x.new_tokens <= 6 && ['eos', 'length', 'stop'].includes(x.finish_reason)));
  assert.equal(bdlab(...args).stdout, a.stdout);
  assert.match(bdlab('generate', '--model', llama, '--prompt', 'x', '--top-p', '2').stderr, /--top-p must be at most 1/);
});
