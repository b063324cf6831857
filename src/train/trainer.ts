// The instruction-tuning trainer: AdamW, warm-up + schedule, gradient
// accumulation that weights every answer token equally, clipping, seeded
// (optionally length-grouped) batches, progress with loss, tokens/s and ETA.
// Each micro-batch runs inside scope(), so memory stays flat.
//
// Everything a step does is a function of (seed, step): the micro-batches
// (stepBatches), the learning rate, and libtorch's global generator (reseeded
// per step, so dropout draws the same masks after a resume). With the weights
// and the optimiser state of step k, steps k+1.. are the same whether or not
// the process ran steps 1..k itself — what checkpoints rely on (src/train/run.ts).
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import type { LlavaInput } from '../models/llava.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import type { InstructionSample } from '../models/prompt.js';
import type { Module } from '../nn/module.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { causalLmLoss, collate, encodeExample, type Batch, type EncodedExample } from './sft.js';

export interface TrainOptions {
  /** Passes over the data; fractional values stop part-way through the last one. */
  epochs: number;
  lr: number;
  batchSize: number;
  gradAccum: number;
  schedule: T.optim.ScheduleKind;
  warmupRatio: number;
  weightDecay: number;
  /** 0: no clipping. */
  maxGradNorm: number;
  maxLength: number;
  seed: number;
  /** Warm-up steps; when > 0 it overrides warmupRatio (transformers). */
  warmupSteps?: number;
  /** A positive number of optimiser steps overrides epochs (transformers' max_steps). */
  maxSteps?: number;
  /** Batches of similar lengths (transformers' LengthGroupedSampler, seeded). */
  groupByLength?: boolean;
  betas?: [number, number];
  eps?: number;
  /** Prompt template name (src/models/prompt.ts); default `auto`. */
  template?: string;
  trainOnPrompt?: boolean;
  /** The loss of one micro-batch (default: the SFT loss); CROW's objective plugs in here. */
  objective?: Objective;
  onStep?: (info: StepInfo) => void;
  label?: string;
}

/**
 * What a training step minimises for one micro-batch: `loss` (a scalar, usually a
 * mean over the batch's answer tokens) and its `weight` (usually the number of
 * answer tokens). The trainer backpropagates loss · weight / (sum of weights in
 * the step), so gradient accumulation weights every token equally whatever the
 * micro-batch split. `metrics` are logged per step (weighted the same way).
 */
export type Objective = (model: CausalLM, batch: Batch) => ObjectiveResult;

export interface ObjectiveResult {
  loss: T.Tensor;
  weight: number;
  metrics?: Record<string, number>;
}

/** Mean next-token cross entropy over the answer tokens, weighted by their count. */
export const sftObjective: Objective = (model, batch) => {
  const inp: LlavaInput = { inputIds: batch.inputIds, attentionMask: batch.attentionMask };
  if (batch.pixelValues) inp.pixelValues = batch.pixelValues;
  const out = model.forward(inp);
  return { loss: causalLmLoss(out.logits, batch.labels), weight: batch.tokens };
};

export const DEFAULT_TRAIN: Omit<TrainOptions, 'seed'> = {
  epochs: 3,
  lr: 2e-4,
  batchSize: 4,
  gradAccum: 1,
  schedule: 'cosine',
  warmupRatio: 0.1,
  weightDecay: 0,
  maxGradNorm: 1,
  maxLength: 256,
};

export interface StepInfo {
  /** 1-based number of the step just taken. */
  step: number;
  totalSteps: number;
  /** Fractional epochs done after this step. */
  epoch: number;
  loss: number;
  lr: number;
  /** Gradient norm before clipping (0 when no parameter got a gradient). */
  gradNorm: number;
  /** Answer tokens and input (non-padding) tokens of this step. */
  tokens: number;
  inputTokens: number;
  /** The objective's metrics, weighted like the loss. */
  metrics: Record<string, number>;
}

export interface TrainResult {
  /** Steps taken by this call (from startStep to the end). */
  steps: number;
  totalSteps: number;
  startStep: number;
  losses: number[];
  firstLoss: number;
  lastLoss: number;
  seconds: number;
  /** Answer tokens (the loss's). */
  tokens: number;
  /** Input tokens without padding (what tokens/s counts). */
  inputTokens: number;
}

/** Examples a trainer can batch: their count, lengths and a collated micro-batch. */
export interface TrainData {
  readonly size: number;
  /** Token length of example i (for length grouping and tokens/s). */
  length(i: number): number;
  /** The micro-batch of these examples (called inside a scope). */
  batch(indices: readonly number[]): Batch;
}

/** In-memory encoded examples (text only). */
function exampleData(examples: readonly EncodedExample[], padId: number): TrainData {
  return {
    size: examples.length,
    length: (i) => (examples[i] as EncodedExample).ids.length,
    batch: (idx) => collate(idx.map((i) => examples[i] as EncodedExample), padId),
  };
}

export interface StepPlan {
  batchesPerEpoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
}

/**
 * How many optimiser steps a run takes: every batch of an epoch is used (the
 * last step of an epoch may accumulate fewer micro-batches), and fractional
 * epochs round the step count up, as transformers does.
 */
export function planSteps(n: number, o: Pick<TrainOptions, 'epochs' | 'batchSize' | 'gradAccum' | 'warmupRatio' | 'warmupSteps' | 'maxSteps'>): StepPlan {
  const batchesPerEpoch = Math.ceil(n / o.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / o.gradAccum);
  const totalSteps = o.maxSteps && o.maxSteps > 0 ? o.maxSteps : Math.max(1, Math.ceil(o.epochs * stepsPerEpoch - 1e-9));
  const warmupSteps = o.warmupSteps && o.warmupSteps > 0 ? o.warmupSteps : T.optim.warmupFromRatio(totalSteps, o.warmupRatio);
  return { batchesPerEpoch, stepsPerEpoch, totalSteps, warmupSteps };
}

/**
 * The order of examples in an epoch: a seeded permutation, or with length
 * grouping transformers' get_length_grouped_indices (mega-batches of up to 50
 * batches, each sorted longest first, the longest example of all first).
 */
export function epochOrder(lengths: (i: number) => number, n: number, batchSize: number, seed: number, epoch: number, groupByLength: boolean): number[] {
  const perm = Array.from(new Rng(seed, 'train-order', epoch).permutation(n));
  if (!groupByLength) return perm;
  const mult = Math.max(1, Math.min(Math.floor(n / (batchSize * 4)), 50));
  const size = mult * batchSize;
  const megas: number[][] = [];
  for (let i = 0; i < n; i += size) megas.push(perm.slice(i, i + size).sort((a, b) => lengths(b) - lengths(a)));
  let maxIdx = 0;
  megas.forEach((m, i) => {
    if (lengths(m[0] as number) > lengths((megas[maxIdx] as number[])[0] as number)) maxIdx = i;
  });
  const first = megas[0] as number[];
  const top = megas[maxIdx] as number[];
  [first[0], top[0]] = [top[0] as number, first[0] as number];
  return megas.flat();
}

/** Example indices of each micro-batch of 0-based optimiser step `step`, given its epoch's order. */
export function stepMicroBatches(order: readonly number[], plan: StepPlan, batchSize: number, gradAccum: number, step: number): number[][] {
  const inEpoch = step % plan.stepsPerEpoch;
  const b0 = inEpoch * gradAccum;
  const micro = Math.min(gradAccum, plan.batchesPerEpoch - b0);
  return Array.from({ length: micro }, (_, m) => order.slice((b0 + m) * batchSize, Math.min((b0 + m + 1) * batchSize, order.length)));
}

/** The learning-rate schedule of a plan (warm-up, then the kind's decay; `constant` keeps the rate after warm-up). */
function scheduleOf(kind: T.optim.ScheduleKind, plan: StepPlan): T.optim.Schedule {
  return { kind, warmupSteps: plan.warmupSteps, totalSteps: plan.totalSteps };
}

/**
 * AdamW over the model's trainable parameters, with weight decay only on
 * matrices (transformers leaves biases and norm weights undecayed).
 */
export function createOptimizer(model: Module, o: Pick<TrainOptions, 'lr' | 'weightDecay' | 'betas' | 'eps'>): T.optim.AdamW {
  const decay: T.Tensor[] = [];
  const plain: T.Tensor[] = [];
  for (const [name, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    (p.shape.length >= 2 && !name.endsWith('.bias') ? decay : plain).push(p);
  }
  if (decay.length + plain.length === 0) throw new Error('train: the model has no trainable parameters (check the freeze policy)');
  const groups = [
    { params: decay, options: { weightDecay: o.weightDecay } },
    { params: plain, options: { weightDecay: 0 } },
  ].filter((g) => g.params.length > 0);
  return new T.optim.AdamW(groups, { lr: o.lr, betas: o.betas ?? [0.9, 0.999], eps: o.eps ?? 1e-8, weightDecay: o.weightDecay });
}

export interface AccumulateResult {
  /** The step's loss: the weighted mean of the micro-batch losses. */
  loss: number;
  weight: number;
  metrics: Record<string, number>;
}

/**
 * Runs the objective on each micro-batch and leaves in every parameter's grad
 * the gradient of Σ loss_m · weight_m / Σ weight_m — the same gradient however
 * the examples are split into micro-batches. A micro-batch of weight 0 adds
 * nothing (its mean loss would be NaN).
 */
export function accumulateGradients(model: CausalLM, params: readonly T.Tensor[], microBatches: ReadonlyArray<() => Batch>, objective: Objective = sftObjective): AccumulateResult {
  const results: Array<{ loss: number; weight: number; metrics: Record<string, number> }> = [];
  for (const make of microBatches) {
    results.push(
      T.scope(() => {
        const r = objective(model, make());
        // scaled by this batch's weight now, by the step's total weight below
        if (r.weight > 0) r.loss.mul(r.weight).backward();
        return { loss: r.weight > 0 ? r.loss.item() : 0, weight: r.weight, metrics: r.metrics ?? {} };
      }),
    );
  }
  const weight = results.reduce((a, r) => a + r.weight, 0);
  const metrics: Record<string, number> = {};
  let loss = 0;
  for (const r of results) {
    loss += r.loss * r.weight;
    for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + v * r.weight;
  }
  if (weight > 0) {
    loss /= weight;
    for (const k of Object.keys(metrics)) metrics[k] = (metrics[k] as number) / weight;
    T.noGrad(() => {
      for (const p of params) {
        const g = p.grad;
        if (g) {
          g.div_(weight);
          g.dispose();
        }
      }
    });
  } else loss = NaN;
  return { loss, weight, metrics };
}

/** The global generator's seed for a step: dropout masks depend on (seed, step) only. */
function stepSeed(seed: number, step: number): number {
  return new Rng(seed, 'train-step', step).u32();
}

/** Gradient norm without clipping (what transformers logs as grad_norm). */
function gradNorm(params: readonly T.Tensor[]): number {
  return T.noGrad(() =>
    T.scope(() => {
      const gs = params.map((p) => p.grad).filter((g): g is T.Tensor => g !== null);
      if (!gs.length) return 0;
      return T.stack(gs.map((g) => g.norm(2).float())).norm(2).item();
    }),
  );
}

export interface TrainLoopOptions extends TrainOptions {
  /** Steps already taken (resume): training continues at this step. */
  startStep?: number;
  /** The optimiser (restored when resuming); default a new one over the trainable parameters. */
  optimizer?: T.optim.AdamW;
  /** Called after every optimiser step, outside any scope (checkpoints, logs). */
  onStepEnd?: (info: StepInfo) => void;
}

/** Trains the model's trainable parameters on prepared examples. */
export function trainLoop(model: CausalLM, data: TrainData, opts: TrainLoopOptions): TrainResult {
  if (data.size === 0) throw new Error('train: no samples');
  const params = model.trainableParameters();
  if (params.length === 0) throw new Error('train: the model has no trainable parameters (check the freeze policy)');
  const plan = planSteps(data.size, opts);
  const schedule = scheduleOf(opts.schedule, plan);
  const start = opts.startStep ?? 0;
  const opt = opts.optimizer ?? createOptimizer(model, opts);
  const objective = opts.objective ?? sftObjective;
  const progress = new Progress({ label: opts.label ?? 'train', total: Math.max(0, plan.totalSteps - start), unit: 'step' });
  const losses: number[] = [];
  const t0 = Date.now();
  let tokens = 0;
  let inputTokens = 0;
  let orderEpoch = -1;
  let order: number[] = [];
  let extra = '';
  model.train(true);
  try {
    for (let step = start; step < plan.totalSteps; step++) {
      const epoch = Math.floor(step / plan.stepsPerEpoch);
      if (epoch !== orderEpoch) {
        order = epochOrder((i) => data.length(i), data.size, opts.batchSize, opts.seed, epoch, opts.groupByLength ?? false);
        orderEpoch = epoch;
      }
      const micro = stepMicroBatches(order, plan, opts.batchSize, opts.gradAccum, step);
      const lr = opts.lr * T.optim.lrMultiplier(schedule, step);
      opt.setLr(lr);
      T.manualSeed(stepSeed(opts.seed, step));
      const r = accumulateGradients(
        model,
        params,
        micro.map((idx) => () => data.batch(idx)),
        objective,
      );
      const norm = opts.maxGradNorm > 0 ? T.optim.clipGradNorm(params, opts.maxGradNorm) : gradNorm(params);
      opt.step();
      opt.zeroGrad();
      const stepInput = micro.flat().reduce((a, i) => a + data.length(i), 0);
      tokens += r.weight;
      inputTokens += stepInput;
      losses.push(r.loss);
      const info: StepInfo = {
        step: step + 1,
        totalSteps: plan.totalSteps,
        epoch: (step + 1) / plan.stepsPerEpoch,
        loss: r.loss,
        lr,
        gradNorm: norm,
        tokens: r.weight,
        inputTokens: stepInput,
        metrics: r.metrics,
      };
      opts.onStep?.(info);
      opts.onStepEnd?.(info);
      const secs = Math.max((Date.now() - t0) / 1000, 1e-9);
      extra = `loss ${r.loss.toFixed(4)} ${Math.round(inputTokens / secs)} tok/s`;
      progress.tick(1, extra);
    }
  } finally {
    model.train(false);
    if (!opts.optimizer) opt.dispose();
  }
  progress.finish(extra);
  return {
    steps: plan.totalSteps - start,
    totalSteps: plan.totalSteps,
    startStep: start,
    losses,
    firstLoss: losses[0] ?? NaN,
    lastLoss: losses[losses.length - 1] ?? NaN,
    seconds: (Date.now() - t0) / 1000,
    tokens,
    inputTokens,
  };
}

/** Trains the model's trainable parameters on instruction samples held in memory (tests, the demo). */
export function trainInstructions(model: CausalLM, tok: TextTokenizer, samples: readonly InstructionSample[], opts: TrainOptions): TrainResult {
  if (samples.length === 0) throw new Error('train: no samples');
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const encoded = samples.map((s) => encodeExample(tok, s, opts.maxLength, { template: opts.template, trainOnPrompt: opts.trainOnPrompt }));
  return trainLoop(model, exampleData(encoded, pad), opts);
}
