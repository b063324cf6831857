// CROW (Min et al., "CROW: Eliminating Backdoors from Large Language Models
// via Internal Consistency Regularization", ICML 2025): the training objective
// and the consistency measure it is built on.
//
// Contract (the published consistency_trainer.py, checked value by value):
//   e      = the input's token embeddings
//   h_0..h_L = Hugging Face's hidden_states (h_0 = e, h_l = block l's output,
//            h_L = the final norm's output)
//   C(e)   = mean over pairs (l, l+1) for l in hidden_states[1:-2] and tokens t
//            of 1 − cos(h_l[t], h_{l+1}[t])  (cosine eps 1e-8)
//   δ      = ε · sign(∇_e C(e))                               (FGSM, ε 0.1)
//   loss   = LM loss (prompt tokens masked) + α · C(e + δ)    (α 5.5)
// The published code runs three forward passes (C(e) with grad for ∇_e C, the
// perturbed pass, then the plain LM pass). The clean pass here serves both
// C(e) and the LM loss: its logits are those of the third pass (the same
// weights on the same embeddings; with right padding the masked and unmasked
// passes agree on every real token), so two passes give the same numbers.
// ∇_e C is taken with autograd.grad (retaining the graph for the LM loss), so
// no parameter gradient comes from C(e), as the published code's zero_grad ensures.
//
// The published code's FGSM step is a no-op: it takes
// `gradients = inputs_embeds.grad.detach()` (a view of the gradient's
// storage) and then zeroes `inputs_embeds.grad` in place before computing
// `epsilon * gradients.sign()`, so its δ is 0 and it trains LM + α·C(e).
// Here δ is the paper's ε·sign(∇_e C(e)); ε = 0 reproduces the released
// code's numbers (and skips the second pass, since C(e + 0) = C(e)).
//
// Padding: the published code passes no attention mask to the first two
// passes and averages 1 − cos over padding positions too (`padding: included`).
// The default (`masked`) attends and averages over real tokens only.
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import { causalLmLoss, type Batch } from '../train/sft.js';
import type { Objective } from '../train/trainer.js';
import { UserError } from '../util/errors.js';
import { resolve } from 'node:path';
import { z } from 'zod';
import { readConfig, textConfig } from '../models/config.js';
import type { BatchValue } from './common.js';
import { registerTrainingDefense } from './tune.js';
import type { ParamSpec } from './types.js';

export const PADDING_MODES = ['masked', 'included'] as const;
export type PaddingMode = (typeof PADDING_MODES)[number];

/**
 * Which consecutive hidden states are compared, as a Python slice over
 * hidden_states for the first member of each pair: `1:-2` (the published
 * choice) compares h_1..h_{L-2} with h_2..h_{L-1}; `0:-1` compares every
 * consecutive pair, embeddings and final norm included.
 */
export interface LayerSlice {
  start: number;
  end: number;
}

export const PUBLISHED_LAYERS: LayerSlice = { start: 1, end: -2 };

export interface CrowOptions {
  epsilon: number;
  alpha: number;
  layers: LayerSlice;
  padding: PaddingMode;
}

export const DEFAULT_CROW: CrowOptions = { epsilon: 0.1, alpha: 5.5, layers: PUBLISHED_LAYERS, padding: 'masked' };

/** Parses `START:END` (Python slice bounds, negative from the end). */
export function parseLayerSlice(s: string): LayerSlice {
  const m = /^\s*(-?\d+)\s*:\s*(-?\d+)\s*$/.exec(s);
  if (!m) throw new UserError(`layers "${s}": expected START:END over hidden_states, e.g. 1:-2 (the published pairs) or 0:-1 (every pair)`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

export function formatLayerSlice(l: LayerSlice): string {
  return `${l.start}:${l.end}`;
}

/**
 * The pairs (l, l + 1) of hidden-state indices a slice selects on a model
 * with `numLayers` blocks (numLayers + 1 hidden states).
 */
export function layerPairs(slice: LayerSlice, numLayers: number): Array<[number, number]> {
  const n = numLayers + 1;
  const at = (i: number): number => Math.min(n, Math.max(0, i < 0 ? n + i : i));
  const start = at(slice.start);
  const end = Math.min(at(slice.end), n - 1); // the second member must exist
  const pairs: Array<[number, number]> = [];
  for (let l = start; l < end; l++) pairs.push([l, l + 1]);
  if (pairs.length === 0) {
    throw new UserError(
      `layers ${formatLayerSlice(slice)} selects no pair of consecutive hidden states on a model with ${numLayers} layers` +
        (numLayers < 3 && slice.start === 1 && slice.end === -2 ? ' (the published pairs need 3 or more layers)' : ''),
    );
  }
  return pairs;
}

/**
 * 1 − cos(h_l[t], h_{l+1}[t]) for each selected pair, as [pairs, batch, seq]
 * in float32 (PyTorch's cosine_similarity, eps 1e-8).
 */
export function layerDistances(hiddenStates: readonly T.Tensor[], pairs: ReadonlyArray<[number, number]>): T.Tensor {
  const a = T.stack(pairs.map(([l]) => (hiddenStates[l] as T.Tensor).float()));
  const b = T.stack(pairs.map(([, m]) => (hiddenStates[m] as T.Tensor).float()));
  return T.cosineSimilarity(a, b, -1, 1e-8).neg().add(1);
}

/**
 * C: the mean of layerDistances over pairs and tokens; with `mask` ([B, T],
 * 1 = real token) only real tokens count.
 */
export function consistency(hiddenStates: readonly T.Tensor[], pairs: ReadonlyArray<[number, number]>, mask?: T.Tensor): T.Tensor {
  const d = layerDistances(hiddenStates, pairs);
  if (!mask) return d.mean();
  const m = mask.to(d.dtype);
  return d.mul(m).sum().div(m.sum().mul(pairs.length));
}

/** Refuses left or inner padding: the two-pass equivalence needs real tokens first in every row. */
function checkRightPadded(mask: T.Tensor): void {
  if (mask.size(1) < 2) return;
  const bad = T.noGrad(() => {
    const t = mask.size(1);
    return mask.narrow(1, 1, t - 1).gt(mask.narrow(1, 0, t - 1)).any().item();
  });
  if (bad) throw new Error('CROW: the batch is not right-padded (a real token follows padding)');
}

export interface CrowInput {
  inputIds: T.Tensor;
  /** [B, T], 1 = real token, right padding only; absent = no padding. */
  attentionMask?: T.Tensor;
  /** Labels for the LM loss (-100 = not scored); absent = no LM loss. */
  labels?: T.Tensor;
}

export interface CrowTerms {
  /** C(e) (a value: no parameter gradient flows from it). */
  consistency: T.Tensor;
  /** ∇_e C(e), [B, T, d]; null when ε = 0 (not needed). */
  gradient: T.Tensor | null;
  /** δ = ε · sign(∇_e C(e)); null when ε = 0. */
  delta: T.Tensor | null;
  /** C(e + δ), in the graph unless `train` is false. */
  perturbedConsistency: T.Tensor;
  /** The LM loss on the clean pass (null without labels). */
  lmLoss: T.Tensor | null;
  /** lmLoss + α · C(e + δ) (α · C(e + δ) without labels). */
  loss: T.Tensor;
  pairs: Array<[number, number]>;
}

/**
 * CROW's terms for one batch, in two forward passes. Needs gradient mode on
 * (for ∇_e C). With `train` false the perturbed pass runs without recording
 * (validation), and nothing keeps a graph.
 */
export function crowTerms(model: CausalLM, input: CrowInput, o: CrowOptions, train = true): CrowTerms {
  if (!T.isGradEnabled()) throw new Error('crowTerms needs gradient mode (∇_e C(e)); call it outside noGrad');
  if (!(o.epsilon >= 0) || !Number.isFinite(o.epsilon)) throw new UserError(`CROW: epsilon must be a finite number ≥ 0, got ${o.epsilon}`);
  if (!(o.alpha >= 0) || !Number.isFinite(o.alpha)) throw new UserError(`CROW: alpha must be a finite number ≥ 0, got ${o.alpha}`);
  const pairs = layerPairs(o.layers, model.textConfig.numHiddenLayers);
  const mask = o.padding === 'masked' ? input.attentionMask : undefined;
  // without a mask the padded positions are attended; right padding keeps them behind every real token
  if (input.attentionMask && !mask) checkRightPadded(input.attentionMask);
  const e = model.embedTokens(input.inputIds);
  // frozen embeddings: e is a leaf, as in the published code; with ε = 0 no ∇_e is needed
  const ownLeaf = o.epsilon > 0 && !e.requiresGrad;
  if (ownLeaf) e.requiresGrad_(true);
  const clean = model.forward({ inputsEmbeds: e, attentionMask: mask, outputHiddenStates: true, logitsToKeep: input.labels ? 0 : 1 });
  const c = consistency(clean.hiddenStates as T.Tensor[], pairs, mask);
  let gradient: T.Tensor | null = null;
  let delta: T.Tensor | null = null;
  let cp: T.Tensor;
  if (o.epsilon > 0) {
    gradient = T.grad(c, e, { retainGraph: train && input.labels !== undefined })[0] as T.Tensor;
    const d = T.noGrad(() => (gradient as T.Tensor).sign().mul(o.epsilon));
    delta = d;
    const perturbed = (): T.Tensor => {
      // a leaf of our own needs no gradient from this pass (the weights' gradients are the same either way)
      const out = model.forward({ inputsEmbeds: (ownLeaf ? e.detach() : e).add(d), attentionMask: mask, outputHiddenStates: true, logitsToKeep: 1 });
      return consistency(out.hiddenStates as T.Tensor[], pairs, mask);
    };
    cp = train ? perturbed() : T.noGrad(perturbed);
  } else {
    cp = train ? c : c.detach(); // δ = 0: C(e + δ) is the clean pass's C(e), in the graph
  }
  const lmLoss = input.labels ? causalLmLoss(clean.logits, input.labels) : null;
  const lm = lmLoss && !train ? lmLoss.detach() : lmLoss;
  const loss = lm ? lm.add(cp.mul(o.alpha)) : cp.mul(o.alpha);
  return { consistency: c.detach(), gradient, delta, perturbedConsistency: cp, lmLoss: lm, loss, pairs };
}

/**
 * CROW as a trainer objective: the loss of crowTerms on the batch, weighted by
 * its answer tokens like the plain SFT loss; logs the LM loss, C(e) and C(e + δ).
 */
export function crowObjective(o: CrowOptions): Objective {
  return (model, batch: Batch) => {
    const t = crowTerms(model, batch, o);
    return {
      loss: t.loss,
      weight: batch.tokens,
      metrics: {
        lm_loss: (t.lmLoss as T.Tensor).item(),
        consistency: t.consistency.item(),
        perturbed_consistency: t.perturbedConsistency.item(),
      },
    };
  };
}

export interface CrowInspection {
  /** Hugging Face's LlamaForCausalLM(ids, labels=ids).loss: mean next-token cross entropy. */
  loss: number;
  consistency: number;
  perturbed_consistency: number;
  epsilon: number;
  pairs: Array<[number, number]>;
}

/** CROW's numbers for one unpadded sequence (what `bdlab inspect --crow` prints). */
export function inspectCrow(model: CausalLM, ids: readonly number[], o: Pick<CrowOptions, 'epsilon' | 'layers'>): CrowInspection {
  return T.enableGrad(() =>
    T.scope(() => {
      const device = (model.parameters()[0]?.device ?? 'cpu') as T.Device;
      const inputIds = T.tensor([[...ids]], { dtype: 'int64', device });
      const t = crowTerms(model, { inputIds, labels: inputIds }, { ...DEFAULT_CROW, ...o, alpha: 0, padding: 'masked' }, false);
      return {
        loss: (t.lmLoss as T.Tensor).item(),
        consistency: t.consistency.item(),
        perturbed_consistency: t.perturbedConsistency.item(),
        epsilon: o.epsilon,
        pairs: t.pairs,
      };
    }),
  );
}

// ---- the defense -------------------------------------------------------------------

const numeric = (v: unknown): unknown => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
const nonNegative = (): z.ZodType<number> => z.preprocess(numeric, z.number({ error: 'expected a number' }).min(0, { error: 'must be 0 or more' }));

/** CROW's own settings, validated with bdlab train's keys (CONFIG.yaml or flags). */
export const CROW_KEYS = {
  epsilon: nonNegative().default(0.1),
  alpha: nonNegative().default(5.5),
  layers: z
    .string({ error: 'expected START:END' })
    .refine((v) => /^\s*-?\d+\s*:\s*-?\d+\s*$/.test(v), { error: 'expected START:END over hidden_states, e.g. 1:-2' })
    .default('1:-2'),
  padding: z.enum(PADDING_MODES, { error: `expected one of ${PADDING_MODES.join(', ')}` }).default('masked'),
};

export const CROW_PARAMS: ParamSpec[] = [
  { name: 'epsilon', type: 'number', default: 0.1, min: 0, doc: "FGSM step ε on the input embeddings (the paper's 0.1; 0 reproduces the released code, whose perturbation is zeroed before use)" },
  { name: 'alpha', type: 'number', default: 5.5, min: 0, doc: 'weight α of C(e + δ) (published 5.5 for sentiment and code injection, 11 for targeted refusal)' },
  { name: 'layers', type: 'string', default: '1:-2', doc: 'hidden_states slice of the first member of each compared pair: 1:-2 = the published pairs (block outputs 1..L-1), 0:-1 = every pair' },
  {
    name: 'padding',
    type: 'enum',
    default: 'masked',
    choices: [...PADDING_MODES],
    doc: 'masked: padding neither attends nor counts in C; included: as the published code, no attention mask in the two consistency passes and C averaged over padding too',
  },
];

/** The validation objective: LM loss + α · C(e + δ) on held-out records, no gradient to the weights. */
export function crowValue(o: CrowOptions): BatchValue {
  return (model, batch) =>
    T.enableGrad(() => {
      const t = crowTerms(model, batch, o, false);
      return { value: t.loss.item(), weight: batch.tokens };
    });
}

registerTrainingDefense({
  name: 'crow',
  summary: "CROW (Min et al., ICML 2025): LoRA fine-tuning on clean records with LM loss + α·C(e + ε·sign(∇_e C)), C = mean 1 − cos of consecutive hidden states",
  params: CROW_PARAMS,
  extraKeys: CROW_KEYS,
  make(s) {
    const o: CrowOptions = { epsilon: s.epsilon, alpha: s.alpha, layers: parseLayerSlice(s.layers), padding: s.padding };
    // refuse a slice the model cannot give before anything trains
    layerPairs(o.layers, textConfig(readConfig(resolve(s.model_name_or_path))).numHiddenLayers);
    return { label: 'crow', objective: crowObjective(o), value: crowValue(o), fixed: { epsilon: o.epsilon, alpha: o.alpha, layers: formatLayerSlice(o.layers), padding: o.padding } };
  },
});
