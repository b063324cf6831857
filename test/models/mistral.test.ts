// Mistral's sliding-window attention (a query at i sees keys j with
// i − W < j ≤ i, as transformers' sliding_window_overlay): the window bites
// exactly from position W on, the KV cache and left padding keep it, and
// config.json is read as transformers reads it (MistralConfig's default
// window; Qwen2's per-layer window refused by name). The float64 reference
// comparison is in numerics.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, noGrad, scope, tensor, type Tensor } from '../../src/engine/index.js';
import { parseConfig, parseLlamaConfig, type LlavaConfig } from '../../src/models/config.js';
import { KVCache } from '../../src/models/kv-cache.js';
import { loadModel } from '../../src/models/load.js';
import { assertCacheEqualsRecompute, assertPaddedBatchEqualsAlone, baseConfig, randomLlama, tempDir } from './fixtures.js';
import { readWeights, refDecoder, relErr, type RefConfig } from './reference.js';

const WINDOW = 3;
const cfg = baseConfig({ model_type: 'mistral', sliding_window: WINDOW, vocab_size: 61, eos_token_id: 2 });
const { dir, cleanup } = tempDir('mistral');
randomLlama(dir, cfg, { seed: 4 });
const { model } = loadModel(dir);
process.on('exit', () => {
  model.dispose();
  cleanup();
});

const prompts = [
  [1, 5, 9, 14, 22, 30, 41],
  [1, 44],
  [1, 8, 16, 3, 27],
];

function logitsOf(m: typeof model, ids: number[]): number[][] {
  return noGrad(() => scope(() => m.forward({ inputIds: tensor([ids], { dtype: 'int64' }) }).logits.select(0, 0).tolist() as number[][]));
}

test('the window bites from position W on: earlier positions equal full attention, later ones do not', () => {
  assert.equal(model.textConfig.slidingWindow, WINDOW);
  const t = tempDir('mistral-full');
  try {
    randomLlama(t.dir, { ...cfg, sliding_window: null }, { seed: 4 });
    const full = loadModel(t.dir).model;
    assert.equal(full.textConfig.slidingWindow, null);
    const ids = [1, 7, 33, 2, 59, 12, 5, 40];
    const a = logitsOf(model, ids);
    const b = logitsOf(full, ids);
    for (let i = 0; i < ids.length; i++) {
      const e = relErr(a[i], b[i]);
      if (i < WINDOW) assert.ok(e < 1e-6, `position ${i} sees the whole prefix: ${e}`);
      else assert.ok(e > 1e-3, `position ${i} sees only the last ${WINDOW} keys: ${e}`);
    }
    // and the full-attention model is the reference's without a window
    const ref = refDecoder({ ...cfg, sliding_window: null } as unknown as RefConfig, readWeights(t.dir), ids);
    assert.ok(relErr(b, ref.logits) < 1e-4);
    full.dispose();
  } finally {
    t.cleanup();
  }
});

test('mistral: KV-cache generation equals full recomputation with the window (greedy and sampled)', () => {
  assertCacheEqualsRecompute(model, prompts);
});

test('mistral: cached decoding logits equal the full forward pass and the reference', () => {
  const ids = [1, 5, 9, 14, 22, 30, 7, 3, 50, 11];
  noGrad(() =>
    scope(() => {
      const full = model.forward({ inputIds: tensor([ids], { dtype: 'int64' }) }).logits;
      const cache = new KVCache(cfg.num_hidden_layers);
      const parts: Tensor[] = [model.forward({ inputIds: tensor([ids.slice(0, 2)], { dtype: 'int64' }), cache }).logits];
      for (const id of ids.slice(2)) parts.push(model.forward({ inputIds: tensor([[id]], { dtype: 'int64' }), cache }).logits);
      cache.dispose();
      const stepwise = cat(parts, 1);
      assert.ok(stepwise.allclose(full, 1e-5, 1e-5), 'stepwise logits differ from one pass');
      const ref = refDecoder(cfg as unknown as RefConfig, readWeights(dir), ids);
      const e = relErr(stepwise.select(0, 0).tolist(), ref.logits);
      assert.ok(e < 1e-4, `stepwise logits vs reference: ${e}`);
    }),
  );
});

test('mistral: a left-padded batch equals each prompt run alone', () => {
  assertPaddedBatchEqualsAlone(model, prompts);
});

test("config: mistral without 'sliding_window' gets MistralConfig's 4096; null means none", () => {
  const base = baseConfig({ model_type: 'mistral' });
  delete (base as Record<string, unknown>).sliding_window;
  assert.equal(parseLlamaConfig(base).slidingWindow, 4096);
  assert.equal(parseLlamaConfig({ ...base, sliding_window: null }).slidingWindow, null);
  assert.equal(parseLlamaConfig({ ...base, sliding_window: 7 }).slidingWindow, 7);
  assert.throws(() => parseLlamaConfig({ ...base, sliding_window: 0 }), /'sliding_window' must be positive/);
  // a llama config's sliding_window is not Llama's
  assert.equal(parseLlamaConfig(baseConfig({ sliding_window: 3 })).slidingWindow, null);
  // LLaVA with a Mistral text model (text_config built as a MistralConfig)
  const llava = parseConfig({
    model_type: 'llava',
    text_config: { ...base },
    vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, image_size: 8, patch_size: 4 },
  }) as LlavaConfig;
  assert.equal(llava.text.slidingWindow, 4096);
});

test("config: qwen2's per-layer sliding window is refused by name, not computed differently", () => {
  const q = baseConfig({ model_type: 'qwen2', sliding_window: 4, max_window_layers: 1 });
  // off (as Qwen2 checkpoints ship): full attention on every layer, the window value ignored
  assert.equal(parseLlamaConfig({ ...q, use_sliding_window: false }).slidingWindow, null);
  assert.equal(parseLlamaConfig(q).slidingWindow, null);
  assert.throws(() => parseLlamaConfig({ ...q, use_sliding_window: true }), /'use_sliding_window' is true: transformers would window layers 1 to 2 \(max_window_layers 1\)/);
  // on, but no layer reaches max_window_layers (or no window): nothing slides in transformers either
  assert.equal(parseLlamaConfig({ ...q, use_sliding_window: true, max_window_layers: 3 }).slidingWindow, null);
  assert.equal(parseLlamaConfig({ ...q, use_sliding_window: true, sliding_window: null }).slidingWindow, null);
  // transformers' default max_window_layers is 28
  const noMax = { ...q, use_sliding_window: true } as Record<string, unknown>;
  delete noMax.max_window_layers;
  assert.equal(parseLlamaConfig(noMax).slidingWindow, null);
  assert.throws(() => parseLlamaConfig({ ...q, layer_types: ['full_attention', 'sliding_attention', 'sliding_attention'] }), /'layer_types' marks layers 'sliding_attention'/);
  assert.equal(parseLlamaConfig({ ...q, layer_types: ['full_attention', 'full_attention', 'full_attention'] }).slidingWindow, null);
});
