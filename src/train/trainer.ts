// The instruction-tuning trainer: AdamW, warm-up + schedule, gradient
// accumulation and clipping, seeded shuffling, progress with rate and ETA.
// Each optimiser step runs inside scope(), so memory stays flat.
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { causalLmLoss, collate, encodeExample, type Batch, type EncodedExample } from './sft.js';
import type { InstructionSample } from './prompt.js';

export interface TrainOptions {
  epochs: number;
  lr: number;
  batchSize: number;
  gradAccum: number;
  schedule: T.optim.ScheduleKind;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  maxLength: number;
  seed: number;
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
  const out = model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask });
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
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
}

export interface TrainResult {
  steps: number;
  losses: number[];
  firstLoss: number;
  lastLoss: number;
  seconds: number;
  tokens: number;
}

/** Trains the model's trainable parameters on instruction samples. */
export function trainInstructions(
  model: CausalLM,
  tok: TextTokenizer,
  samples: readonly InstructionSample[],
  opts: TrainOptions,
): TrainResult {
  if (samples.length === 0) throw new Error('train: no samples');
  const params = model.trainableParameters();
  if (params.length === 0) throw new Error('train: the model has no trainable parameters (check the freeze policy)');
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const encoded: EncodedExample[] = samples.map((s) => encodeExample(tok, s, opts.maxLength));
  const batchesPerEpoch = Math.ceil(encoded.length / opts.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / opts.gradAccum);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const schedule: T.optim.Schedule = {
    kind: opts.schedule,
    warmupSteps: T.optim.warmupFromRatio(totalSteps, opts.warmupRatio),
    totalSteps,
  };
  const opt = new T.optim.AdamW(params, { lr: opts.lr, weightDecay: opts.weightDecay });
  const progress = new Progress({ label: opts.label ?? 'train', total: totalSteps, unit: 'step' });
  const losses: number[] = [];
  const start = Date.now();
  let tokens = 0;
  let step = 0;
  model.train(true);
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = new Rng(opts.seed, 'train-order', epoch).permutation(encoded.length);
      for (let b0 = 0; b0 < batchesPerEpoch; b0 += opts.gradAccum) {
        opt.setLr(opts.lr * T.optim.lrMultiplier(schedule, step));
        const micro = Math.min(opts.gradAccum, batchesPerEpoch - b0);
        const microIdx = Array.from({ length: micro }, (_, m) => {
          const lo = (b0 + m) * opts.batchSize;
          return Array.from(order.subarray(lo, Math.min(lo + opts.batchSize, encoded.length)));
        });
        const objective = opts.objective ?? sftObjective;
        let stepLoss = 0;
        let stepWeight = 0;
        const results: Array<{ loss: number; weight: number }> = [];
        for (const idx of microIdx) {
          results.push(
            T.scope(() => {
              const batch = collate(idx.map((i) => encoded[i] as EncodedExample), pad);
              tokens += batch.tokens;
              const r = objective(model, batch);
              // scaled by this batch's weight now, by the step's total weight below
              r.loss.mul(r.weight).backward();
              return { loss: r.loss.item(), weight: r.weight };
            }),
          );
        }
        for (const r of results) {
          stepLoss += r.loss * r.weight;
          stepWeight += r.weight;
        }
        stepLoss /= Math.max(stepWeight, 1e-12);
        T.noGrad(() => {
          for (const p of params) {
            const g = p.grad;
            if (g) {
              g.div_(Math.max(stepWeight, 1e-12));
              g.dispose();
            }
          }
        });
        if (opts.maxGradNorm > 0) T.optim.clipGradNorm(params, opts.maxGradNorm);
        opt.step();
        opt.zeroGrad();
        losses.push(stepLoss);
        const info = { step: step + 1, totalSteps, epoch, loss: stepLoss, lr: opts.lr * T.optim.lrMultiplier(schedule, step) };
        opts.onStep?.(info);
        step++;
        progress.tick(1, `loss ${stepLoss.toFixed(4)}`);
      }
    }
  } finally {
    model.train(false);
    opt.dispose();
  }
  progress.finish();
  return {
    steps: step,
    losses,
    firstLoss: losses[0] ?? NaN,
    lastLoss: losses[losses.length - 1] ?? NaN,
    seconds: (Date.now() - start) / 1000,
    tokens,
  };
}
