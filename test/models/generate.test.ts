// Generation: the KV cache gives what full recomputation gives, a left-padded
// batch gives what each prompt gives alone, and EOS, stop strings, max new
// tokens, sampling seeds and streaming behave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, noGrad, scope, tensor, type Tensor } from '../../src/engine/index.js';
import { generate } from '../../src/models/generate.js';
import { KVCache } from '../../src/models/kv-cache.js';
import { loadModel } from '../../src/models/load.js';
import { newModelFolder } from '../../src/models/presets.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { assertCacheEqualsRecompute, assertPaddedBatchEqualsAlone, baseConfig, randomLlama, tempDir } from './fixtures.js';

const { dir, cleanup } = tempDir('gen');
randomLlama(dir, baseConfig({ vocab_size: 61, eos_token_id: 2 }), { seed: 3 });
const { model } = loadModel(dir);
process.on('exit', () => {
  model.dispose();
  cleanup();
});

const prompts = [
  [1, 5, 9, 14, 22, 30],
  [1, 44],
  [1, 8, 16, 3],
];

test('KV-cache generation equals full recomputation (greedy and sampled)', () => {
  assertCacheEqualsRecompute(model, prompts);
});

test('cached decoding logits equal the full forward pass', () => {
  noGrad(() =>
    scope(() => {
      const ids = [1, 5, 9, 14, 22, 30, 7, 3];
      const full = model.forward({ inputIds: tensor([ids], { dtype: 'int64' }) }).logits;
      const cache = new KVCache(3);
      const parts: Tensor[] = [model.forward({ inputIds: tensor([ids.slice(0, 5)], { dtype: 'int64' }), cache }).logits];
      for (const id of ids.slice(5)) parts.push(model.forward({ inputIds: tensor([[id]], { dtype: 'int64' }), cache }).logits);
      cache.dispose();
      const stepwise = cat(parts, 1);
      assert.ok(stepwise.allclose(full, 1e-5, 1e-5), 'stepwise logits differ from one pass');
    }),
  );
});

test('a left-padded batch equals each prompt run alone', () => {
  assertPaddedBatchEqualsAlone(model, prompts);
});

test('sampling is reproducible by seed and differs across seeds', () => {
  const o = { maxNewTokens: 16, eosTokenIds: [], doSample: true, temperature: 1.5 };
  const a = generate(model, [[1, 5]], { ...o, seed: 1 });
  const b = generate(model, [[1, 5]], { ...o, seed: 1 });
  const c = generate(model, [[1, 5]], { ...o, seed: 2 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
  // top-k 1 is greedy
  const g = generate(model, [[1, 5]], { maxNewTokens: 8, eosTokenIds: [] });
  const k1 = generate(model, [[1, 5]], { maxNewTokens: 8, eosTokenIds: [], doSample: true, topK: 1, seed: 9 });
  assert.deepEqual(g.tokens, k1.tokens);
});

test('EOS ends a row and is not returned; max new tokens bounds the rest', () => {
  const free = generate(model, [[1, 5, 9]], { maxNewTokens: 6, eosTokenIds: [] });
  const first = (free.tokens[0] as number[])[2] as number;
  const stopped = generate(model, [[1, 5, 9]], { maxNewTokens: 6, eosTokenIds: [first] });
  assert.deepEqual(stopped.tokens[0], (free.tokens[0] as number[]).slice(0, (free.tokens[0] as number[]).indexOf(first)));
  assert.equal(stopped.finishReasons[0], 'eos');
  assert.equal(free.finishReasons[0], 'length');
  assert.deepEqual(generate(model, [[1]], { maxNewTokens: 0 }).tokens, [[]]);
});

test('stop strings, streaming and bad ids with a real tokenizer', () => {
  const t = tempDir('gen-tok');
  try {
    newModelFolder(t.dir, { arch: 'llama', preset: 'tiny', seed: 5 });
    const lm = loadModel(t.dir).model;
    const tok = TextTokenizer.load(t.dir);
    const prompt = tok.encodeChat([{ role: 'user', content: 'Say something.' }], { addGenerationPrompt: true });
    const streamed: string[] = [];
    const base = generate(lm, [prompt], { maxNewTokens: 20, tokenizer: tok, eosTokenIds: [], onToken: (e) => streamed.push(e.text) });
    assert.equal(streamed.join(''), base.texts[0]);
    assert.equal(tok.decode(base.tokens[0] as number[]), base.texts[0]);
    const text = base.texts[0] as string;
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2);
    const cut = generate(lm, [prompt], { maxNewTokens: 20, tokenizer: tok, eosTokenIds: [], stopStrings: [stop] });
    assert.equal(cut.finishReasons[0], 'stop');
    assert.equal(cut.texts[0], text.slice(0, text.indexOf(stop)));
    assert.throws(() => generate(lm, [[1, 99999]]), /outside the vocabulary/);
    lm.dispose();
  } finally {
    t.cleanup();
  }
});
