// Detection of triggered inputs from CROW's observation: in a backdoored model
// a trigger makes consecutive hidden states disagree. Each input (its prompt,
// rendered as in training) gets a layer-consistency profile — per pair of
// consecutive hidden states, 1 − cos over the prompt's tokens, reduced by mean
// (or max) — and a score:
//   mahalanobis: sqrt(mean over pairs of z²), z standardised by the mean and
//     standard deviation of clean profiles (fitted on one half of the clean
//     calibration inputs, the threshold set on the other half);
//   consistency: the profile's mean (CROW's C for the input), threshold on
//     all calibration inputs.
// The threshold flags at most the chosen false-positive rate of the clean
// calibration inputs (roc.ts); test figures come from separate labelled files.
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { encodePrompt, resolveTemplate, type InstructionSample } from '../models/prompt.js';
import { wilson } from '../eval/stats/wilson.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { formatLayerSlice, layerDistances, layerPairs, type LayerSlice } from './crow.js';
import { auroc, flaggedShare, thresholdAtFpr } from './roc.js';

export const SCORES = ['mahalanobis', 'consistency'] as const;
export type ScoreKind = (typeof SCORES)[number];
export const REDUCTIONS = ['mean', 'max'] as const;
export type Reduction = (typeof REDUCTIONS)[number];

export interface DetectOptions {
  /** Pairs compared (default 0:-1: every consecutive pair). */
  layers: LayerSlice;
  reduce: Reduction;
  score: ScoreKind;
  /** False-positive rate the threshold is set for on clean calibration inputs. */
  fpr: number;
  batchSize: number;
  /** Longest prompt in tokens (longer prompts keep their first tokens). */
  maxLength: number;
  seed: number;
  /** Prompt template (src/models/prompt.ts), as the model was trained. */
  template: string;
}

export const DEFAULT_DETECT: DetectOptions = { layers: { start: 0, end: -1 }, reduce: 'mean', score: 'mahalanobis', fpr: 0.05, batchSize: 16, maxLength: 1024, seed: 0, template: 'auto' };

/** Per input, per selected pair: 1 − cos of consecutive hidden states over the prompt's tokens, reduced. */
export function consistencyProfiles(model: CausalLM, tok: TextTokenizer, inputs: readonly InstructionSample[], o: Pick<DetectOptions, 'layers' | 'reduce' | 'batchSize' | 'maxLength' | 'template'>, progress?: Progress): number[][] {
  const pairs = layerPairs(o.layers, model.textConfig.numHiddenLayers);
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const device = (model.parameters()[0]?.device ?? 'cpu') as T.Device;
  const out: number[][] = [];
  const was = model.training;
  model.train(false);
  try {
    for (let i = 0; i < inputs.length; i += o.batchSize) {
      const enc = inputs.slice(i, i + o.batchSize).map((s) => encodePrompt(tok, s, o.template).slice(0, o.maxLength));
      const len = Math.max(...enc.map((e) => e.length));
      const ids = enc.map((e) => [...e, ...Array<number>(len - e.length).fill(pad)]);
      const mask = enc.map((e) => [...e.map(() => 1), ...Array<number>(len - e.length).fill(0)]);
      const rows = T.noGrad(() =>
        T.scope(() => {
          const m = T.tensor(mask, { dtype: 'int64', device });
          const res = model.forward({ inputIds: T.tensor(ids, { dtype: 'int64', device }), attentionMask: m, outputHiddenStates: true, logitsToKeep: 1 });
          const d = layerDistances(res.hiddenStates as T.Tensor[], pairs); // [P, B, T]
          const mf = m.float().unsqueeze(0);
          const red = o.reduce === 'mean' ? d.mul(mf).sum(-1).div(mf.sum(-1)) : d.maskedFill(mf.eq(0), -Infinity).max(-1).values;
          return red.transpose(0, 1).cpu().tolist() as number[][];
        }),
      );
      out.push(...rows);
      progress?.tick(enc.length);
    }
  } finally {
    model.train(was);
  }
  return out;
}

/** A fitted score: larger = more likely triggered. */
export interface Scorer {
  kind: ScoreKind;
  score(profile: readonly number[]): number;
  /** Per-pair mean and standard deviation of the clean profiles it was fitted on (mahalanobis). */
  fit?: { mean: number[]; std: number[]; n: number };
}

export function fitScorer(kind: ScoreKind, clean: readonly number[][]): Scorer {
  if (kind === 'consistency') return { kind, score: (p) => p.reduce((a, v) => a + v, 0) / p.length };
  const n = clean.length;
  if (n < 2) throw new UserError(`mahalanobis scoring needs at least 2 clean inputs to fit, got ${n}`);
  const f = (clean[0] as number[]).length;
  const mean = Array.from({ length: f }, (_, j) => clean.reduce((a, p) => a + (p[j] as number), 0) / n);
  const std = mean.map((m, j) => {
    const v = clean.reduce((a, p) => a + ((p[j] as number) - m) ** 2, 0) / (n - 1);
    return Math.max(Math.sqrt(v), 1e-6 * (Math.abs(m) + 1e-12), 1e-12);
  });
  return {
    kind,
    fit: { mean, std, n },
    score: (p) => Math.sqrt(p.reduce((a, v, j) => a + ((v - (mean[j] as number)) / (std[j] as number)) ** 2, 0) / f),
  };
}

export interface DetectInputs {
  /** Clean inputs the score is fitted on and the threshold set with (never the test inputs). */
  calibration: InstructionSample[];
  /** Labelled test inputs. */
  clean: InstructionSample[];
  triggered: InstructionSample[];
}

export interface Rate {
  rate: number;
  hits: number;
  n: number;
  ci95: [number, number];
}

export interface DetectResult {
  auroc: number;
  /** Triggered test inputs flagged. */
  tpr: Rate;
  /** Clean test inputs flagged (the rate the threshold aimed at, measured on unseen inputs). */
  fpr: Rate;
  fpr_target: number;
  threshold: number;
  score: ScoreKind;
  reduce: Reduction;
  layers: string;
  template: string;
  pairs: Array<[number, number]>;
  /** AUROC of each pair's raw value alone (which layers tell triggered inputs apart). */
  per_pair_auroc: number[];
  n: { calibration_fit: number; calibration_threshold: number; clean: number; triggered: number };
  scores: { clean: number[]; triggered: number[] };
}

function rate(hits: number, n: number): Rate {
  return { rate: n ? hits / n : 0, hits, n, ci95: wilson(hits, n) };
}

/** Scores the test inputs, calibrating on the clean calibration inputs. */
export function detect(model: CausalLM, tok: TextTokenizer, d: DetectInputs, o: DetectOptions): DetectResult {
  if (d.calibration.length < 2) throw new UserError(`calibration needs at least 2 clean inputs, got ${d.calibration.length}`);
  if (d.clean.length === 0 || d.triggered.length === 0) throw new UserError(`the test needs clean and triggered inputs (got ${d.clean.length} clean, ${d.triggered.length} triggered)`);
  const progress = new Progress({ label: 'detect', total: d.calibration.length + d.clean.length + d.triggered.length, unit: 'input' });
  const cal = consistencyProfiles(model, tok, d.calibration, o, progress);
  const clean = consistencyProfiles(model, tok, d.clean, o, progress);
  const trig = consistencyProfiles(model, tok, d.triggered, o, progress);
  progress.finish();
  let fitSet = cal;
  let thresholdSet = cal;
  if (o.score === 'mahalanobis') {
    const order = new Rng(o.seed, 'detect-calibration').permutation(cal.length);
    const half = Math.floor(cal.length / 2);
    fitSet = Array.from(order.subarray(0, cal.length - half), (i) => cal[i] as number[]);
    thresholdSet = Array.from(order.subarray(cal.length - half), (i) => cal[i] as number[]);
  }
  const scorer = fitScorer(o.score, fitSet);
  const threshold = thresholdAtFpr(thresholdSet.map((p) => scorer.score(p)), o.fpr);
  const sClean = clean.map((p) => scorer.score(p));
  const sTrig = trig.map((p) => scorer.score(p));
  const tp = flaggedShare(sTrig, threshold);
  const fp = flaggedShare(sClean, threshold);
  const pairs = layerPairs(o.layers, model.textConfig.numHiddenLayers);
  return {
    auroc: auroc(sTrig, sClean),
    tpr: rate(tp.flagged, tp.n),
    fpr: rate(fp.flagged, fp.n),
    fpr_target: o.fpr,
    threshold,
    score: o.score,
    reduce: o.reduce,
    layers: formatLayerSlice(o.layers),
    template: resolveTemplate(tok, o.template).name,
    pairs,
    per_pair_auroc: pairs.map((_, j) => auroc(trig.map((p) => p[j] as number), clean.map((p) => p[j] as number))),
    n: { calibration_fit: fitSet.length, calibration_threshold: thresholdSet.length, clean: clean.length, triggered: trig.length },
    scores: { clean: sClean, triggered: sTrig },
  };
}
