// Calibration for the defenses that read activations (wanda, fineprune): the
// clean records as padded batches, and per-input-channel statistics of chosen
// linear layers' inputs over real tokens, gathered by wrapping those layers
// for the duration of the passes (the model is restored afterwards).
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { defaultTargetModules, selectedModules } from '../nn/adapters.js';
import type { LinearLike } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import type { InstructionSample } from '../models/prompt.js';
import { collate, encodeExample, type EncodedExample } from '../train/sft.js';

/** A linear layer that reports its input before computing. */
class InputTap extends Module implements LinearLike {
  constructor(
    readonly inner: LinearLike,
    private readonly onInput: (x: T.Tensor) => void,
  ) {
    super();
    this.registerModule('inner', inner);
  }
  get inFeatures(): number {
    return this.inner.inFeatures;
  }
  get outFeatures(): number {
    return this.inner.outFeatures;
  }
  forward(x: T.Tensor): T.Tensor {
    this.onInput(x);
    return this.inner.forward(x);
  }
}

function ownerOf(model: Module, path: string): [Module, string] {
  const i = path.lastIndexOf('.');
  const owner = i < 0 ? model : model.moduleAt(path.slice(0, i));
  if (!owner) throw new Error(`no module '${path}'`);
  return [owner, path.slice(i + 1)];
}

/** The decoder's linear layers (q, k, v, o, gate, up, down of every block), grouped by block, in order. */
export function decoderLinears(model: CausalLM): string[][] {
  const byLayer = new Map<number, string[]>();
  for (const name of selectedModules(model, defaultTargetModules(model))) {
    const m = /(?:^|\.)layers\.(\d+)\./.exec(name);
    if (!m) continue;
    const l = Number(m[1]);
    byLayer.set(l, [...(byLayer.get(l) ?? []), name]);
  }
  return [...byLayer.entries()].sort((a, b) => a[0] - b[0]).map(([, names]) => names);
}

/** The weight of a (plain) linear layer by module path. */
export function linearWeight(model: CausalLM, path: string): T.Tensor {
  const w = model.getParameter(`${path}.weight`);
  if (!w) throw new Error(`no weight at ${path} (merge LoRA adapters first)`);
  return w;
}

/** Clean records as right-padded batches (prompt + answer, as in training). */
export interface CalibrationSet {
  batches: EncodedExample[][];
  samples: number;
  tokens: number;
}

export function calibrationSet(tok: TextTokenizer, samples: readonly InstructionSample[], o: { maxLength: number; batchSize: number; template: string }): CalibrationSet {
  const enc = samples.map((s) => encodeExample(tok, s, o.maxLength, { template: o.template }));
  const batchSize = o.batchSize;
  const batches: EncodedExample[][] = [];
  for (let i = 0; i < enc.length; i += batchSize) batches.push(enc.slice(i, i + batchSize));
  return { batches, samples: enc.length, tokens: enc.reduce((a, e) => a + e.ids.length, 0) };
}

/** Per input channel over real tokens: Σ x² (Wanda's ‖X_j‖₂²), Σ |x| and the token count. */
export interface ChannelStats {
  sumSquares: Float64Array;
  sumAbs: Float64Array;
  tokens: number;
}

/**
 * Runs the calibration batches through the model (no gradients, logits of one
 * position only) with the named linear layers wrapped, and returns each one's
 * input statistics over real (non-padding) tokens.
 */
export function inputStats(model: CausalLM, tok: TextTokenizer, set: CalibrationSet, names: readonly string[]): Map<string, ChannelStats> {
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const acc = new Map<string, { sq: T.Tensor; abs: T.Tensor }>();
  let mask3: T.Tensor | null = null;
  let tokens = 0;
  const restore: Array<() => void> = [];
  const was = model.training;
  model.train(false);
  try {
    for (const name of names) {
      const [owner, child] = ownerOf(model, name);
      const inner = owner.child(child) as LinearLike;
      owner.replaceChild(
        child,
        new InputTap(inner, (x) => {
          const m = mask3 as T.Tensor;
          const xf = x.float().mul(m);
          const sq = xf.pow(2).sum([0, 1]);
          const ab = xf.abs().sum([0, 1]);
          const prev = acc.get(name);
          if (prev) {
            prev.sq.add_(sq);
            prev.abs.add_(ab);
          } else acc.set(name, { sq: T.keep(sq), abs: T.keep(ab) });
        }),
      );
      restore.push(() => owner.replaceChild(child, inner));
    }
    T.noGrad(() => {
      for (const b of set.batches) {
        T.scope(() => {
          const batch = collate(b, pad);
          mask3 = batch.attentionMask.unsqueeze(-1).float();
          tokens += b.reduce((a, e) => a + e.ids.length, 0);
          model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, logitsToKeep: 1 });
        });
      }
    });
  } finally {
    for (const r of restore.reverse()) r();
    model.train(was);
  }
  const out = new Map<string, ChannelStats>();
  for (const [name, a] of acc) {
    const host = (t: T.Tensor): Float64Array => T.scope(() => Float64Array.from(t.cpu().toArray() as Float32Array));
    out.set(name, { sumSquares: host(a.sq), sumAbs: host(a.abs), tokens });
    a.sq.dispose();
    a.abs.dispose();
  }
  return out;
}
