// Sequence lengths past max_position_embeddings, non-finite weights or
// logits, and generation_config.json's end-of-sequence ids: errors that name
// the cause instead of silently wrong output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../src/models/generate.js';
import { loadModel } from '../../src/models/load.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { assertRefused, bdlabCapped } from './harness.js';
import { baseFolders, variant } from './models.js';

const { llama } = baseFolders();

test('inspect with 6,000 ids on a model with 1,024 positions is refused', async () => {
  const ids = Array.from({ length: 6000 }, (_, i) => String(5 + (i % 50))).join(',');
  const r = await bdlabCapped(['inspect', '--model', llama, '--ids', ids, '--json']);
  assertRefused(r, /6000 tokens.*max_position_embeddings \(1024\)/);
});

test('generate past max_position_embeddings is refused', async () => {
  const dir = variant(llama, 'short', (j) => (j.max_position_embeddings = 16));
  const r = await bdlabCapped(['generate', '--model', dir, '--prompt', 'one two three four five six', '--max-new-tokens', '32', '--json']);
  assertRefused(r, /max_position_embeddings \(16\)/);
});

/** Rewrites one tensor's float32 bytes in place. */
function poke(dir: string, tensor: string, value: number): void {
  const p = join(dir, 'model.safetensors');
  const buf = readFileSync(p);
  const len = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + len).toString()) as Record<string, { data_offsets: [number, number] }>;
  const [b, e] = (h[tensor] as { data_offsets: [number, number] }).data_offsets;
  for (let o = 8 + len + b; o < 8 + len + e; o += 4) buf.writeFloatLE(value, o);
  writeFileSync(p, buf);
}

test('NaN weights: inspect names the tensor instead of printing null logits', async () => {
  const dir = variant(llama, 'nan');
  poke(dir, 'model.layers.1.mlp.down_proj.weight', NaN);
  const r = await bdlabCapped(['inspect', '--model', dir, '--ids', '1,2,3', '--json']);
  assertRefused(r, /non-finite.*model\.layers\.1\.mlp\.down_proj\.weight/);
});

test('NaN weights: generate fails instead of printing an empty answer', async () => {
  const dir = variant(llama, 'nan-gen');
  poke(dir, 'model.norm.weight', NaN);
  const r = await bdlabCapped(['generate', '--model', dir, '--prompt', 'hello', '--max-new-tokens', '4', '--json']);
  assertRefused(r, /non-finite.*model\.norm\.weight/);
});

test('overflowing weights: the error names the likely config fields', async () => {
  const dir = variant(llama, 'inf');
  poke(dir, 'lm_head.weight', 3e38);
  const r = await bdlabCapped(['inspect', '--model', dir, '--ids', '1,2,3', '--json']);
  assertRefused(r, /non-finite logits.*(rms_norm_eps|rope_theta)/);
});

test("generation_config.json's eos_token_id ends generation", async () => {
  const dir = variant(llama, 'eos');
  // the token the model produces first for this prompt, greedily
  const tok = TextTokenizer.load(dir);
  const ids = tok.encodeChat([{ role: 'user', content: 'hello there' }], { addGenerationPrompt: true });
  const { model } = loadModel(dir);
  let first: number;
  try {
    first = generate(model, [ids], { maxNewTokens: 1, eosTokenIds: [] }).tokens[0]![0]!;
  } finally {
    model.dispose();
  }
  assert.notEqual(first, 2, 'the test needs a first token other than the config eos');
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: [first], pad_token_id: 3 }));
  const r = await bdlabCapped(['generate', '--model', dir, '--prompt', 'hello there', '--max-new-tokens', '8', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = (JSON.parse(r.stdout) as { outputs: Array<{ finish_reason: string; new_tokens: number }> }).outputs[0]!;
  assert.deepEqual([out.finish_reason, out.new_tokens], ['eos', 0]);
});
