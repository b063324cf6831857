// The Llama family decoder (llama, mistral, qwen2), written to read top to
// bottom like Hugging Face's modeling_llama.py: rotary embeddings, attention
// with grouped-query heads and a KV cache, the gated MLP, the decoder layer,
// the model and the causal-LM head. Parameter names are Hugging Face's, so a
// checkpoint loads by name. Numerics follow the eager implementation: RMSNorm
// in float32, rotary tables in float32 cast to the activations' dtype, softmax
// in float32, additive masks filled with the dtype's lowest value.
import { arange, cat, keep as keepTensor, noGrad, tensor, where, type Tensor } from '../engine/index.js';
import { ACT2FN } from '../nn/activations.js';
import { Embedding } from '../nn/embedding.js';
import { ParamInit } from '../nn/init.js';
import { Linear, type LinearLike } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { RMSNorm } from '../nn/rmsnorm.js';
import type { LlamaConfig, RopeScaling } from './config.js';
import type { KVCache } from './kv-cache.js';
import { ModuleList } from './module-list.js';

// ---- rotary position embeddings -------------------------------------------

/**
 * Inverse frequencies base^(-2i/d), adjusted by the config's scaling: linear
 * (position interpolation: every frequency divided by the factor) or llama3
 * (low frequencies divided by the factor, high ones kept, a smooth blend in
 * between).
 */
export function ropeInvFreq(headDim: number, theta: number, s: RopeScaling): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    let f = 1 / theta ** (Math.fround((2 * i) / headDim));
    if (s.type === 'linear') f /= s.factor;
    else if (s.type === 'llama3') {
      const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f /= s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = ((1 - smooth) * f) / s.factor + smooth * f;
      }
    }
    out[i] = f;
  }
  return out;
}

export class LlamaRotaryEmbedding extends Module {
  private invFreq: Tensor | null = null;
  private readonly invFreqValues: Float32Array;

  constructor(readonly config: LlamaConfig) {
    super();
    this.invFreqValues = ropeInvFreq(config.headDim, config.ropeTheta, config.ropeScaling);
  }

  private invFreqOn(device: string): Tensor {
    if (!this.invFreq || this.invFreq.device !== device) {
      this.invFreq?.dispose();
      // a buffer, not a parameter: never saved, never trained
      this.invFreq = tensor(this.invFreqValues, { device: device as 'cpu' });
      this.invFreq = keepTensor(this.invFreq);
    }
    return this.invFreq;
  }

  /**
   * cos and sin tables [batch, seq, head_dim] for the given positions, in
   * `dtype` (Hugging Face's LlamaRotaryEmbedding.forward).
   */
  forward(positionIds: Tensor, dtype: Tensor['dtype']): [Tensor, Tensor] {
    return noGrad(() => {
      const invFreq = this.invFreqOn(positionIds.device);
      const freqs = positionIds.float().unsqueeze(-1).mul(invFreq); // [B, T, d/2]
      const emb = cat([freqs, freqs], -1);
      const cos = emb.cos();
      const sin = emb.sin();
      return dtype === 'float32' ? [cos, sin] : [cos.to(dtype), sin.to(dtype)];
    });
  }

  override dispose(): void {
    this.invFreq?.dispose();
    this.invFreq = null;
  }
}

/**
 * HF's apply_rotary_pos_emb, x·cos + rotate_half(x)·sin, in fewer operations:
 * since sin repeats its halves, rotate_half(x)·sin = roll(x, D/2)·[−s, s], so
 * with the signed table prepared once per forward each of q and k costs a
 * roll, two multiplies and an add. Bit-identical to the HF form (the sign
 * moves from x to sin, which IEEE arithmetic does exactly).
 */
export function rotate(x: Tensor, cos4: Tensor, signedSin4: Tensor): Tensor {
  const half = x.size(-1) / 2;
  return x.mul(cos4).add(x.roll(half, -1).mul(signedSin4));
}

/** Per-forward rotary tables broadcast over heads: cos [B, 1, T, D] and [−sin₁, sin₂] for rotate(). */
export interface RopeTables {
  cos4: Tensor;
  signedSin4: Tensor;
}

function ropeTables(cos: Tensor, sin: Tensor): RopeTables {
  return noGrad(() => {
    const half = sin.size(-1) / 2;
    const signed = cat([sin.narrow(-1, 0, half).neg(), sin.narrow(-1, half, half)], -1);
    return { cos4: cos.unsqueeze(1), signedSin4: signed.unsqueeze(1) };
  });
}

// ---- attention --------------------------------------------------------------

/** The lowest finite value of a float dtype: what Hugging Face fills masked scores with. */
function minValue(dtype: Tensor['dtype']): number {
  switch (dtype) {
    case 'float16':
      return -65504;
    case 'bfloat16':
      return -3.3895313892515355e38;
    case 'float64':
      return -Number.MAX_VALUE;
    default:
      return -3.4028234663852886e38;
  }
}

export class LlamaAttention extends Module {
  q_proj: LinearLike;
  k_proj: LinearLike;
  v_proj: LinearLike;
  o_proj: LinearLike;
  readonly headDim: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly scaling: number;

  constructor(
    readonly config: LlamaConfig,
    readonly layerIdx: number,
    init: ParamInit,
  ) {
    super();
    const c = config;
    this.headDim = c.headDim;
    this.numHeads = c.numAttentionHeads;
    this.numKvHeads = c.numKeyValueHeads;
    this.scaling = c.headDim ** -0.5;
    this.q_proj = this.registerModule('q_proj', new Linear(c.hiddenSize, c.numAttentionHeads * c.headDim, c.qkvBias, init));
    this.k_proj = this.registerModule('k_proj', new Linear(c.hiddenSize, c.numKeyValueHeads * c.headDim, c.qkvBias, init));
    this.v_proj = this.registerModule('v_proj', new Linear(c.hiddenSize, c.numKeyValueHeads * c.headDim, c.qkvBias, init));
    this.o_proj = this.registerModule('o_proj', new Linear(c.numAttentionHeads * c.headDim, c.hiddenSize, c.oBias, init));
  }

  /** h [B, T, d]; rope tables from ropeTables(); mask additive [B, 1, T, S] or null (no masking needed). */
  forward(h: Tensor, rope: RopeTables, mask: Tensor | null, cache?: KVCache): Tensor {
    const [b, t] = h.shape as [number, number];
    let q = this.q_proj.forward(h).view([b, t, this.numHeads, this.headDim]).transpose(1, 2);
    let k = this.k_proj.forward(h).view([b, t, this.numKvHeads, this.headDim]).transpose(1, 2);
    let v = this.v_proj.forward(h).view([b, t, this.numKvHeads, this.headDim]).transpose(1, 2);
    q = rotate(q, rope.cos4, rope.signedSin4);
    k = rotate(k, rope.cos4, rope.signedSin4);
    if (cache) [k, v] = cache.update(this.layerIdx, k, v);
    const nRep = this.numHeads / this.numKvHeads;
    const s = k.size(2);
    // grouped-query attention without repeating keys/values: the nRep query
    // heads that share a key/value head are stacked along the query axis
    // (the same dot products as repeat_kv, minus two copies per layer)
    const qg = nRep === 1 ? q : q.reshape([b, this.numKvHeads, nRep * t, this.headDim]);
    let scores = qg.matmul(k.transpose(2, 3)).mul(this.scaling);
    if (mask) scores = nRep === 1 ? scores.add(mask) : scores.view([b, this.numKvHeads, nRep, t, s]).add(mask.unsqueeze(2)).view([b, this.numKvHeads, nRep * t, s]);
    let probs = scores.dtype === 'float32' ? scores.softmax(-1) : scores.float().softmax(-1).to(q.dtype);
    if (probs.dtype !== v.dtype) probs = probs.to(v.dtype);
    let out = probs.matmul(v);
    if (nRep !== 1) out = out.view([b, this.numHeads, t, this.headDim]);
    return this.o_proj.forward(out.transpose(1, 2).reshape([b, t, this.numHeads * this.headDim]));
  }
}

// ---- MLP --------------------------------------------------------------------

export class LlamaMLP extends Module {
  gate_proj: LinearLike;
  up_proj: LinearLike;
  down_proj: LinearLike;

  constructor(
    readonly config: LlamaConfig,
    init: ParamInit,
  ) {
    super();
    const c = config;
    this.gate_proj = this.registerModule('gate_proj', new Linear(c.hiddenSize, c.intermediateSize, c.mlpBias, init));
    this.up_proj = this.registerModule('up_proj', new Linear(c.hiddenSize, c.intermediateSize, c.mlpBias, init));
    this.down_proj = this.registerModule('down_proj', new Linear(c.intermediateSize, c.hiddenSize, c.mlpBias, init));
  }

  forward(x: Tensor): Tensor {
    const act = ACT2FN[this.config.hiddenAct];
    return this.down_proj.forward(act(this.gate_proj.forward(x)).mul(this.up_proj.forward(x)));
  }
}

// ---- decoder layer ----------------------------------------------------------

export class LlamaDecoderLayer extends Module {
  readonly self_attn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly input_layernorm: RMSNorm;
  readonly post_attention_layernorm: RMSNorm;

  constructor(config: LlamaConfig, layerIdx: number, init: ParamInit) {
    super();
    this.self_attn = this.registerModule('self_attn', new LlamaAttention(config, layerIdx, init));
    this.mlp = this.registerModule('mlp', new LlamaMLP(config, init));
    this.input_layernorm = this.registerModule('input_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps, init));
    this.post_attention_layernorm = this.registerModule('post_attention_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps, init));
  }

  forward(h: Tensor, rope: RopeTables, mask: Tensor | null, cache?: KVCache): Tensor {
    const afterAttn = h.add(this.self_attn.forward(this.input_layernorm.forward(h), rope, mask, cache));
    return afterAttn.add(this.mlp.forward(this.post_attention_layernorm.forward(afterAttn)));
  }
}

// ---- the model ----------------------------------------------------------------

export interface DecoderInput {
  /** Token ids [B, T] (int64); give this or inputsEmbeds. */
  inputIds?: Tensor;
  /** Input embeddings [B, T, d] instead of ids (CROW perturbs these). */
  inputsEmbeds?: Tensor;
  /** 1 for real tokens, 0 for padding, [B, past + T]; left or right padding. */
  attentionMask?: Tensor;
  /** Positions [B, T]; by default counted over real tokens (from attentionMask) after the cache. */
  positionIds?: Tensor;
  cache?: KVCache;
  /** Return every hidden state (Hugging Face's output_hidden_states). */
  outputHiddenStates?: boolean;
}

export interface DecoderOutput {
  /** The final norm's output [B, T, d]. */
  lastHiddenState: Tensor;
  /** With outputHiddenStates: L + 1 tensors [B, T, d]: embeddings, each block's output, and the last after the final norm. */
  hiddenStates?: Tensor[];
}

/**
 * The additive attention mask [B, 1, T, S] (S = past + T): 0 where a query may
 * attend (key not in the future, not padding, within the sliding window),
 * the dtype's lowest value elsewhere. Null when nothing needs masking (one new
 * token, no padding, no window), which lets decoding skip the add.
 */
export function buildAttentionMask(
  b: number,
  t: number,
  past: number,
  attentionMask: Tensor | undefined,
  dtype: Tensor['dtype'],
  device: string,
  slidingWindow: number | null,
): Tensor | null {
  const s = past + t;
  const windowBites = slidingWindow !== null && s > slidingWindow;
  if (t === 1 && !attentionMask && !windowBites) return null;
  return noGrad(() => {
    const qPos = arange(past, s, 1, { device: device as 'cpu' }).unsqueeze(1); // [T, 1]
    const kPos = arange(0, s, 1, { device: device as 'cpu' }).unsqueeze(0); // [1, S]
    let allowed = kPos.le(qPos);
    if (windowBites) allowed = allowed.logicalAnd(qPos.sub(kPos).lt(slidingWindow as number));
    let allowed4 = allowed.unsqueeze(0).unsqueeze(0); // [1, 1, T, S]
    if (attentionMask) {
      if (attentionMask.shape[1] !== s || attentionMask.shape[0] !== b) {
        throw new Error(`attentionMask has shape [${attentionMask.shape.join(', ')}], expected [${b}, ${s}] (batch, past + new tokens)`);
      }
      allowed4 = allowed4.logicalAnd(attentionMask.ne(0).unsqueeze(1).unsqueeze(1));
    }
    return where(allowed4, 0, minValue(dtype)).to(dtype);
  });
}

/** Positions counted over real tokens: cumsum(mask) − 1, pads set to 1 (as Hugging Face's generate does). */
export function positionsFromMask(attentionMask: Tensor, t: number): Tensor {
  return noGrad(() => {
    const m = attentionMask.to('int64');
    const pos = m.cumsum(-1).sub(1).maskedFill(m.eq(0), 1);
    return pos.narrow(1, pos.size(1) - t, t);
  });
}

export class LlamaModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: RMSNorm;
  readonly rotary_emb: LlamaRotaryEmbedding;

  constructor(
    readonly config: LlamaConfig,
    init: ParamInit,
  ) {
    super();
    this.embed_tokens = this.registerModule('embed_tokens', new Embedding(config.vocabSize, config.hiddenSize, init));
    this.layers = this.registerModule(
      'layers',
      new ModuleList(Array.from({ length: config.numHiddenLayers }, (_, i) => new LlamaDecoderLayer(config, i, init))),
    );
    this.norm = this.registerModule('norm', new RMSNorm(config.hiddenSize, config.rmsNormEps, init));
    this.rotary_emb = new LlamaRotaryEmbedding(config);
  }

  forward(inp: DecoderInput): DecoderOutput {
    if ((inp.inputIds === undefined) === (inp.inputsEmbeds === undefined)) {
      throw new Error('LlamaModel.forward: give exactly one of inputIds and inputsEmbeds');
    }
    let h = inp.inputsEmbeds ?? this.embed_tokens.forward(inp.inputIds as Tensor);
    if (h.ndim !== 3 || h.size(2) !== this.config.hiddenSize) {
      throw new Error(`LlamaModel.forward: input embeddings have shape [${h.shape.join(', ')}], expected [batch, seq, ${this.config.hiddenSize}]`);
    }
    const [b, t] = h.shape as [number, number];
    const past = inp.cache?.length ?? 0;
    const positionIds =
      inp.positionIds ??
      (inp.attentionMask ? positionsFromMask(inp.attentionMask, t) : arange(past, past + t, 1, { device: h.device as 'cpu' }).unsqueeze(0).expand([b, t]));
    const rope = ropeTables(...this.rotary_emb.forward(positionIds, h.dtype));
    const mask = buildAttentionMask(b, t, past, inp.attentionMask, h.dtype, h.device, this.config.slidingWindow);
    const hidden: Tensor[] = [];
    for (const layer of this.layers) {
      if (inp.outputHiddenStates) hidden.push(h);
      h = layer.forward(h, rope, mask, inp.cache);
    }
    h = this.norm.forward(h);
    if (inp.outputHiddenStates) hidden.push(h);
    return inp.outputHiddenStates ? { lastHiddenState: h, hiddenStates: hidden } : { lastHiddenState: h };
  }

  override dispose(): void {
    this.rotary_emb.dispose();
    super.dispose();
  }
}

// ---- causal LM ------------------------------------------------------------------

export interface CausalLMInput extends DecoderInput {
  /** Compute logits for only the last n positions (generation needs 1); 0 = all. */
  logitsToKeep?: number;
}

export interface CausalLMOutput {
  /** [B, T, vocab] (or the last logitsToKeep positions), in the model's dtype. */
  logits: Tensor;
  hiddenStates?: Tensor[];
}

/** Anything generation and training can drive: a decoder LM or an LVLM. */
export interface CausalLM extends Module {
  readonly textConfig: LlamaConfig;
  forward(inp: CausalLMInput): CausalLMOutput;
  /** Token embeddings [B, T, d] of ids (for inputsEmbeds-based methods such as CROW). */
  embedTokens(ids: Tensor): Tensor;
}

export class LlamaForCausalLM extends Module implements CausalLM {
  readonly model: LlamaModel;
  readonly lm_head: Linear;

  constructor(
    readonly config: LlamaConfig,
    init: ParamInit = new ParamInit({ std: config.initializerRange }),
  ) {
    super();
    this.model = this.registerModule('model', new LlamaModel(config, init));
    if (config.tieWordEmbeddings) {
      // the head shares the embedding matrix; no separate tensor is made
      this.lm_head = this.registerModule('lm_head', new Linear(config.hiddenSize, config.vocabSize, false, new ParamInit({ mode: 'empty', dtype: init.dtype, device: init.device })));
      this.tieParameter('lm_head.weight', 'model.embed_tokens.weight');
    } else {
      this.lm_head = this.registerModule('lm_head', new Linear(config.hiddenSize, config.vocabSize, false, init));
    }
  }

  get textConfig(): LlamaConfig {
    return this.config;
  }

  embedTokens(ids: Tensor): Tensor {
    return this.model.embed_tokens.forward(ids);
  }

  forward(inp: CausalLMInput): CausalLMOutput {
    const out = this.model.forward(inp);
    let h = out.lastHiddenState;
    const keepN = inp.logitsToKeep ?? 0;
    if (keepN > 0 && keepN < h.size(1)) h = h.narrow(1, h.size(1) - keepN, keepN);
    const logits = this.lm_head.forward(h);
    return out.hiddenStates ? { logits, hiddenStates: out.hiddenStates } : { logits };
  }
}
