// An independent float64 reference of the Llama-family decoder (with Mistral's
// sliding window) and the CLIP vision tower, written from the published
// definitions (Touvron et al. 2023; Jiang et al. 2023 for Mistral; Su et al.'s
// RoPE with the rotate-half pairing; Radford et al. 2021) with
// plain arrays — it shares no code with src/models. Weights are read from the
// checkpoint files themselves.
import { SafetensorsFolder } from '../../src/engine/index.js';

export type Mat = Float64Array; // row-major
export interface W {
  shape: number[];
  data: Float64Array;
}

export function readWeights(dir: string): Map<string, W> {
  const f = SafetensorsFolder.open(dir);
  const out = new Map<string, W>();
  try {
    for (const n of f.names()) {
      const t = f.read(n, { dtype: 'float64' });
      out.set(n, { shape: t.shape, data: t.toArray() as Float64Array });
      t.dispose();
    }
  } finally {
    f.close();
  }
  return out;
}

function get(w: Map<string, W>, n: string): W {
  const x = w.get(n);
  if (!x) throw new Error(`reference: no weight ${n}`);
  return x;
}

/** y = x Wᵀ (+ b) for one vector. */
function lin(x: ArrayLike<number>, w: W, b?: W): Float64Array {
  const [out, inn] = w.shape as [number, number];
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? (b.data[o] as number) : 0;
    for (let i = 0; i < inn; i++) s += (x[i] as number) * (w.data[o * inn + i] as number);
    y[o] = s;
  }
  return y;
}

function rms(x: Float64Array, w: W, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * (w.data[i] as number));
}

function layerNorm(x: Float64Array, w: W, b: W, eps: number): Float64Array {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const v = x.reduce((a, y) => a + (y - mean) ** 2, 0) / x.length;
  return x.map((y, i) => ((y - mean) / Math.sqrt(v + eps)) * (w.data[i] as number) + (b.data[i] as number));
}

const silu = (v: number): number => v / (1 + Math.exp(-v));

export interface RefConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim?: number;
  rms_norm_eps: number;
  rope_theta?: number;
  /** Newer configs put theta and scaling here. */
  rope_parameters?: { rope_type: string; rope_theta: number; factor: number; low_freq_factor?: number; high_freq_factor?: number; original_max_position_embeddings?: number };
  rope_scaling?: { rope_type: string; factor: number; low_freq_factor?: number; high_freq_factor?: number; original_max_position_embeddings?: number } | null;
  tie_word_embeddings?: boolean;
  model_type: string;
  attention_bias?: boolean;
  /** Mistral's attention window (absent: MistralConfig's 4096; null: none). */
  sliding_window?: number | null;
}

/**
 * How many of the latest keys (the query's own included) a query sees:
 * Mistral windows every layer — a query at i attends to keys j with
 * i − W < j ≤ i (transformers' sliding_window_overlay, kv_idx > q_idx − W) —
 * and MistralConfig defaults W to 4096 when config.json omits it.
 * Other types see the whole prefix.
 */
function attentionWindow(c: RefConfig): number {
  if (c.model_type !== 'mistral') return Infinity;
  if (c.sliding_window === undefined) return 4096;
  return c.sliding_window ?? Infinity;
}

/** θ_i = base^(-2i/d), with Llama 3's frequency-dependent scaling when configured. */
function invFreq(c: RefConfig, d: number): number[] {
  const f: number[] = [];
  for (let i = 0; i < d / 2; i++) {
    const theta = c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000;
    let x = theta ** (-(2 * i) / d);
    const s = c.rope_scaling ?? c.rope_parameters;
    if (s && s.rope_type === 'linear') x /= s.factor;
    if (s && s.rope_type === 'llama3') {
      const old = s.original_max_position_embeddings ?? 8192;
      const lo = s.low_freq_factor ?? 1;
      const hi = s.high_freq_factor ?? 4;
      const wavelen = (2 * Math.PI) / x;
      if (wavelen > old / lo) x = x / s.factor;
      else if (wavelen >= old / hi) {
        const smooth = (old / wavelen - lo) / (hi - lo);
        x = (1 - smooth) * (x / s.factor) + smooth * x;
      }
    }
    f.push(x);
  }
  return f;
}

/** Rotates the pairs (i, i + d/2) of one head's vector by position·θ_i. */
function rope(v: Float64Array, off: number, d: number, pos: number, freqs: number[]): void {
  for (let i = 0; i < d / 2; i++) {
    const a = pos * (freqs[i] as number);
    const c = Math.cos(a);
    const s = Math.sin(a);
    const x1 = v[off + i] as number;
    const x2 = v[off + i + d / 2] as number;
    v[off + i] = x1 * c - x2 * s;
    v[off + i + d / 2] = x2 * c + x1 * s;
  }
}

export interface RefOutput {
  logits: number[][];
  hidden: number[][][];
}

/**
 * The decoder on one sequence. `prefix` names the decoder inside a larger
 * checkpoint ('' for a plain LM, 'language_model.' for LLaVA). `embeds`
 * replaces the token embeddings when given. `positions` default to 0..T-1.
 */
export function refDecoder(c: RefConfig, w: Map<string, W>, ids: number[], o: { prefix?: string; embeds?: Float64Array[]; positions?: number[] } = {}): RefOutput {
  const p = o.prefix ?? '';
  const d = c.hidden_size;
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads;
  const D = c.head_dim ?? d / H;
  const freqs = invFreq(c, D);
  const W = attentionWindow(c);
  const qkvBias = c.model_type === 'qwen2' || c.attention_bias === true;
  const oBias = c.model_type !== 'qwen2' && c.attention_bias === true;
  const E = get(w, `${p}model.embed_tokens.weight`);
  const T = ids.length;
  const pos = o.positions ?? ids.map((_, i) => i);
  let x = (o.embeds ?? ids.map((id) => E.data.slice(id * d, (id + 1) * d))) as Float64Array[];
  const hidden: number[][][] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    hidden.push(x.map((r) => [...r]));
    const L = `${p}model.layers.${l}.`;
    const n1 = x.map((r) => rms(r, get(w, `${L}input_layernorm.weight`), c.rms_norm_eps));
    const b = (n: string): W | undefined => (qkvBias ? get(w, `${L}self_attn.${n}.bias`) : undefined);
    const q = n1.map((r) => lin(r, get(w, `${L}self_attn.q_proj.weight`), b('q_proj')));
    const k = n1.map((r) => lin(r, get(w, `${L}self_attn.k_proj.weight`), b('k_proj')));
    const v = n1.map((r) => lin(r, get(w, `${L}self_attn.v_proj.weight`), b('v_proj')));
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) rope(q[t] as Float64Array, h * D, D, pos[t] as number, freqs);
      for (let h = 0; h < KV; h++) rope(k[t] as Float64Array, h * D, D, pos[t] as number, freqs);
    }
    const attnOut = x.map(() => new Float64Array(H * D));
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KV));
      for (let t = 0; t < T; t++) {
        // keys j with t − W < j ≤ t
        const first = Math.max(0, t - W + 1);
        const scores: number[] = [];
        for (let j = first; j <= t; j++) {
          let s = 0;
          for (let e = 0; e < D; e++) s += ((q[t] as Float64Array)[h * D + e] as number) * ((k[j] as Float64Array)[kvh * D + e] as number);
          scores.push(s / Math.sqrt(D));
        }
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, e) => a + e, 0);
        for (let e = 0; e < D; e++) {
          let acc = 0;
          for (let j = first; j <= t; j++) acc += ((ex[j - first] as number) / z) * ((v[j] as Float64Array)[kvh * D + e] as number);
          (attnOut[t] as Float64Array)[h * D + e] = acc;
        }
      }
    }
    const oW = get(w, `${L}self_attn.o_proj.weight`);
    const oB = oBias ? get(w, `${L}self_attn.o_proj.bias`) : undefined;
    x = x.map((r, t) => {
      const a = lin(attnOut[t] as Float64Array, oW, oB);
      return r.map((vv, i) => vv + (a[i] as number));
    });
    const n2 = x.map((r) => rms(r, get(w, `${L}post_attention_layernorm.weight`), c.rms_norm_eps));
    x = x.map((r, t) => {
      const g = lin(n2[t] as Float64Array, get(w, `${L}mlp.gate_proj.weight`));
      const u = lin(n2[t] as Float64Array, get(w, `${L}mlp.up_proj.weight`));
      const a = lin(
        g.map((gv, i) => silu(gv) * (u[i] as number)),
        get(w, `${L}mlp.down_proj.weight`),
      );
      return r.map((vv, i) => vv + (a[i] as number));
    });
  }
  const xf = x.map((r) => rms(r, get(w, `${p}model.norm.weight`), c.rms_norm_eps));
  hidden.push(xf.map((r) => [...r]));
  const head = c.tie_word_embeddings ? E : get(w, `${p}lm_head.weight`);
  return { logits: xf.map((r) => [...lin(r, head)]), hidden };
}

export interface RefClipConfig {
  hidden_size: number;
  num_attention_heads: number;
  num_hidden_layers: number;
  image_size: number;
  patch_size: number;
  layer_norm_eps: number;
}

/** CLIP ViT hidden states [n+1][1+patches][d] of one image (pixels [3][H][W] flattened). */
export function refClip(c: RefClipConfig, w: Map<string, W>, pixels: Float64Array, prefix = 'vision_tower.vision_model.'): Float64Array[][] {
  const d = c.hidden_size;
  const P = c.patch_size;
  const S = c.image_size;
  const g = S / P;
  const conv = get(w, `${prefix}embeddings.patch_embedding.weight`);
  const cls = get(w, `${prefix}embeddings.class_embedding`);
  const posE = get(w, `${prefix}embeddings.position_embedding.weight`);
  const tokens: Float64Array[] = [cls.data.slice() as Float64Array];
  for (let py = 0; py < g; py++) {
    for (let px = 0; px < g; px++) {
      const e = new Float64Array(d);
      for (let o = 0; o < d; o++) {
        let s = 0;
        for (let ch = 0; ch < 3; ch++)
          for (let yy = 0; yy < P; yy++)
            for (let xx = 0; xx < P; xx++) s += (conv.data[((o * 3 + ch) * P + yy) * P + xx] as number) * (pixels[(ch * S + py * P + yy) * S + px * P + xx] as number);
        e[o] = s;
      }
      tokens.push(e);
    }
  }
  let h: Float64Array[] = tokens.map((t, i) => t.map((v, j) => v + (posE.data[i * d + j] as number)));
  h = h.map((t) => layerNorm(t, get(w, `${prefix}pre_layrnorm.weight`), get(w, `${prefix}pre_layrnorm.bias`), c.layer_norm_eps));
  const out = [h];
  const H = c.num_attention_heads;
  const D = d / H;
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const L = `${prefix}encoder.layers.${l}.`;
    const n1 = h.map((t) => layerNorm(t, get(w, `${L}layer_norm1.weight`), get(w, `${L}layer_norm1.bias`), c.layer_norm_eps));
    const pr = (n: string): Float64Array[] => n1.map((t) => lin(t, get(w, `${L}self_attn.${n}.weight`), get(w, `${L}self_attn.${n}.bias`)));
    const q = pr('q_proj');
    const k = pr('k_proj');
    const v = pr('v_proj');
    const att = h.map(() => new Float64Array(d));
    for (let hh = 0; hh < H; hh++) {
      for (let t = 0; t < h.length; t++) {
        const sc = h.map((_, j) => {
          let s = 0;
          for (let e = 0; e < D; e++) s += ((q[t] as Float64Array)[hh * D + e] as number) * ((k[j] as Float64Array)[hh * D + e] as number);
          return s / Math.sqrt(D);
        });
        const m = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let e = 0; e < D; e++) {
          let acc = 0;
          for (let j = 0; j < h.length; j++) acc += ((ex[j] as number) / z) * ((v[j] as Float64Array)[hh * D + e] as number);
          (att[t] as Float64Array)[hh * D + e] = acc;
        }
      }
    }
    h = h.map((t, i) => {
      const a = lin(att[i] as Float64Array, get(w, `${L}self_attn.out_proj.weight`), get(w, `${L}self_attn.out_proj.bias`));
      return t.map((x, j) => x + (a[j] as number));
    });
    h = h.map((t) => {
      const n2 = layerNorm(t, get(w, `${L}layer_norm2.weight`), get(w, `${L}layer_norm2.bias`), c.layer_norm_eps);
      const f1 = lin(n2, get(w, `${L}mlp.fc1.weight`), get(w, `${L}mlp.fc1.bias`)).map((x) => x / (1 + Math.exp(-1.702 * x)));
      const f2 = lin(f1, get(w, `${L}mlp.fc2.weight`), get(w, `${L}mlp.fc2.bias`));
      return t.map((x, j) => x + (f2[j] as number));
    });
    out.push(h);
  }
  return out;
}

/** LLaVA's projector: linear_2(GELU(linear_1(x))), exact (erf) GELU. */
export function refProjector(w: Map<string, W>, x: Float64Array): Float64Array {
  const h = lin(x, get(w, 'multi_modal_projector.linear_1.weight'), get(w, 'multi_modal_projector.linear_1.bias'));
  const gelu = h.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  return lin(gelu, get(w, 'multi_modal_projector.linear_2.weight'), get(w, 'multi_modal_projector.linear_2.bias'));
}

/** erf to ~1e-15 (series for small |x|, continued fraction for large). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc continued fraction
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/** max |a − b| / max |b| over nested arrays. */
export function relErr(a: unknown, b: unknown): number {
  const fa: number[] = [];
  const fb: number[] = [];
  const flat = (x: unknown, out: number[]): void => {
    if (Array.isArray(x) || ArrayBuffer.isView(x)) for (const v of x as ArrayLike<unknown> & Iterable<unknown>) flat(v, out);
    else out.push(x as number);
  };
  flat(a, fa);
  flat(b, fb);
  if (fa.length !== fb.length) throw new Error(`relErr: ${fa.length} vs ${fb.length} values`);
  let num = 0;
  let den = 0;
  fa.forEach((v, i) => {
    num = Math.max(num, Math.abs(v - (fb[i] as number)));
    den = Math.max(den, Math.abs(fb[i] as number));
  });
  return num / den;
}
