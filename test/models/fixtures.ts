// Test fixtures: random Hugging Face checkpoints written straight from a
// config (tensor names and shapes spelled out here, independently of
// src/models), and temporary folders.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { noGrad, randn, saveSafetensors, scope, tensor, type DType, type Tensor } from '../../src/engine/index.js';
import { generate, leftPad } from '../../src/models/generate.js';
import type { CausalLM } from '../../src/models/llama.js';

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bdlab-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type Cfg = Record<string, unknown> & {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
  model_type: string;
};

export function baseConfig(over: Partial<Cfg> = {}): Cfg {
  return {
    model_type: 'llama',
    vocab_size: 61,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 128,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    pad_token_id: 0,
    ...over,
  };
}

/** The tensors a Llama-family checkpoint of this config holds. */
export function llamaShapes(c: Cfg, prefix = ''): Array<[string, number[]]> {
  const d = c.hidden_size;
  const D = (c.head_dim as number | undefined) ?? d / c.num_attention_heads;
  const qkvBias = c.model_type === 'qwen2' || c.attention_bias === true;
  const oBias = c.model_type !== 'qwen2' && c.attention_bias === true;
  const out: Array<[string, number[]]> = [[`${prefix}model.embed_tokens.weight`, [c.vocab_size, d]]];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const L = `${prefix}model.layers.${l}.`;
    out.push([`${L}input_layernorm.weight`, [d]], [`${L}post_attention_layernorm.weight`, [d]]);
    out.push([`${L}self_attn.q_proj.weight`, [c.num_attention_heads * D, d]]);
    out.push([`${L}self_attn.k_proj.weight`, [c.num_key_value_heads * D, d]]);
    out.push([`${L}self_attn.v_proj.weight`, [c.num_key_value_heads * D, d]]);
    out.push([`${L}self_attn.o_proj.weight`, [d, c.num_attention_heads * D]]);
    if (qkvBias) {
      out.push([`${L}self_attn.q_proj.bias`, [c.num_attention_heads * D]]);
      out.push([`${L}self_attn.k_proj.bias`, [c.num_key_value_heads * D]]);
      out.push([`${L}self_attn.v_proj.bias`, [c.num_key_value_heads * D]]);
    }
    if (oBias) out.push([`${L}self_attn.o_proj.bias`, [d]]);
    out.push([`${L}mlp.gate_proj.weight`, [c.intermediate_size, d]], [`${L}mlp.up_proj.weight`, [c.intermediate_size, d]], [`${L}mlp.down_proj.weight`, [d, c.intermediate_size]]);
  }
  out.push([`${prefix}model.norm.weight`, [d]]);
  if (!c.tie_word_embeddings) out.push([`${prefix}lm_head.weight`, [c.vocab_size, d]]);
  return out;
}

/** Random tensors for the given names/shapes (norm weights around 1, others N(0, std²)). */
export function randomTensors(shapes: Array<[string, number[]]>, seed: number, dtype: DType, std = 0.2): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  shapes.forEach(([n, s], i) => {
    const r = randn(s, { seed: seed * 1000 + i });
    const isNorm = /norm|layrnorm/.test(n) && n.endsWith('weight');
    const v = isNorm ? r.mul(0.1).add(1) : r.mul(std);
    m.set(n, v.to(dtype));
    r.dispose();
    v.dispose();
  });
  return m;
}

export function writeCheckpoint(dir: string, config: Record<string, unknown>, tensors: Map<string, Tensor>): void {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  saveSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}

/** A random Llama-family checkpoint folder from a config. */
export function randomLlama(dir: string, c: Cfg, o: { seed?: number; dtype?: DType } = {}): void {
  const t = randomTensors(llamaShapes(c), o.seed ?? 1, o.dtype ?? 'float32');
  writeCheckpoint(dir, c, t);
  for (const x of t.values()) x.dispose();
}

/** KV-cache generation must equal full recomputation, greedy and sampled (12 new tokens per prompt). */
export function assertCacheEqualsRecompute(model: CausalLM, prompts: number[][]): void {
  for (const sampling of [{}, { doSample: true, temperature: 0.9, topK: 20, topP: 0.95, seed: 11 }]) {
    const a = generate(model, prompts, { maxNewTokens: 12, eosTokenIds: [], ...sampling });
    const b = generate(model, prompts, { maxNewTokens: 12, eosTokenIds: [], useCache: false, ...sampling });
    assert.deepEqual(a.tokens, b.tokens);
    assert.ok(a.tokens.every((t) => t.length === 12));
  }
}

/**
 * A left-padded batch must equal each prompt run alone: the generated tokens
 * (10 per prompt), and the padded forward pass's logits at every row's real positions.
 */
export function assertPaddedBatchEqualsAlone(model: CausalLM, prompts: number[][]): void {
  const batch = generate(model, prompts, { maxNewTokens: 10, eosTokenIds: [] });
  prompts.forEach((p, i) => {
    const alone = generate(model, [p], { maxNewTokens: 10, eosTokenIds: [] });
    assert.deepEqual(batch.tokens[i], alone.tokens[0], `row ${i}`);
  });
  noGrad(() =>
    scope(() => {
      const { ids, mask } = leftPad(prompts, 0);
      const out = model.forward({ inputIds: tensor(ids, { dtype: 'int64' }), attentionMask: tensor(mask, { dtype: 'int64' }) }).logits;
      prompts.forEach((p, r) => {
        const solo = model.forward({ inputIds: tensor([p], { dtype: 'int64' }) }).logits;
        assert.ok(out.select(0, r).narrow(0, out.size(1) - p.length, p.length).allclose(solo.select(0, 0), 1e-5, 1e-5), `row ${r}`);
      });
    }),
  );
}
