// Logits and hidden states of random tiny checkpoints against the float64
// reference in reference.ts, to 1e-4 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, scope, tensor, type Tensor } from '../../src/engine/index.js';
import { loadModel } from '../../src/models/load.js';
import { baseConfig, randomLlama, tempDir, type Cfg } from './fixtures.js';
import { readWeights, refDecoder, relErr, type RefConfig } from './reference.js';

const IDS = [1, 7, 33, 2, 59, 12, 5, 40, 21];

function ours(dir: string, ids: number[]): { logits: number[][]; hidden: number[][][] } {
  const { model } = loadModel(dir);
  try {
    return noGrad(() =>
      scope(() => {
        const out = model.forward({ inputIds: tensor([ids], { dtype: 'int64' }), outputHiddenStates: true });
        return {
          logits: out.logits.select(0, 0).float().tolist() as number[][],
          hidden: (out.hiddenStates as Tensor[]).map((h) => h.select(0, 0).float().tolist() as number[][]),
        };
      }),
    );
  } finally {
    model.dispose();
  }
}

function check(name: string, c: Cfg, dtype: 'float32' | 'bfloat16' = 'float32'): void {
  test(name, () => {
    const { dir, cleanup } = tempDir('num');
    try {
      randomLlama(dir, c, { dtype });
      const got = ours(dir, IDS);
      const ref = refDecoder(c as unknown as RefConfig, readWeights(dir), IDS);
      assert.equal(got.hidden.length, c.num_hidden_layers + 1, 'L + 1 hidden states');
      assert.equal(got.logits[0]?.length, c.vocab_size);
      const eL = relErr(got.logits, ref.logits);
      assert.ok(eL < 1e-4, `logits relative error ${eL}`);
      got.hidden.forEach((h, l) => {
        const e = relErr(h, ref.hidden[l]);
        assert.ok(e < 1e-4, `hidden state ${l} relative error ${e}`);
      });
    } finally {
      cleanup();
    }
  });
}

check('llama with grouped-query attention matches the float64 reference', baseConfig());
check('qwen2 with q/k/v bias matches the reference', baseConfig({ model_type: 'qwen2', rope_theta: 1000000, rms_norm_eps: 1e-6 }));
check('llama with attention_bias (q/k/v/o) matches the reference', baseConfig({ attention_bias: true }));
check('mistral with sliding_window 3 (keys j with i − 3 < j ≤ i) matches the reference', baseConfig({ model_type: 'mistral', sliding_window: 3 }));
check('mistral with sliding_window 1 (each query sees only itself) matches the reference', baseConfig({ model_type: 'mistral', sliding_window: 1 }));
check('tied embeddings (no lm_head in the checkpoint) match the reference', baseConfig({ tie_word_embeddings: true }));
check('bf16 weights match the reference', baseConfig(), 'bfloat16');
check(
  'explicit head_dim and llama3 rope scaling match the reference',
  baseConfig({ head_dim: 16, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8 } }),
);
check('linear rope scaling via rope_parameters matches the reference', {
  ...baseConfig({ num_key_value_heads: 4 }),
  rope_theta: undefined,
  rope_parameters: { rope_type: 'linear', rope_theta: 10000, factor: 2 },
} as unknown as Cfg);

test('inputsEmbeds gives the same result as inputIds', () => {
  const { dir, cleanup } = tempDir('emb');
  try {
    randomLlama(dir, baseConfig());
    const { model } = loadModel(dir);
    noGrad(() =>
      scope(() => {
        const ids = tensor([IDS], { dtype: 'int64' });
        const a = model.forward({ inputIds: ids, outputHiddenStates: true });
        const b = model.forward({ inputsEmbeds: model.embedTokens(ids), outputHiddenStates: true });
        assert.ok(a.logits.equal(b.logits));
        assert.ok((a.hiddenStates as Tensor[]).every((h, i) => h.equal((b.hiddenStates as Tensor[])[i] as Tensor)));
      }),
    );
    model.dispose();
  } finally {
    cleanup();
  }
});
