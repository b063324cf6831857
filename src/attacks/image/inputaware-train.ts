// Training InputAware's generators against a surrogate, with BackdoorBench's
// objective (attack/inputaware.py):
//
// 1. mask stage (clean_train_epochs, 25): the mask generator M alone,
//    λ_norm·mean(relu(m − density)) + λ_div·mean(‖x₁ − x₂‖ / (‖m₁ − m₂‖ + ε)),
//    then M is frozen;
// 2. joint stage: each batch pairs images x₁ (one shuffle) with x₂ (another);
//    the first num_bd = pratio·batch rows get their own trigger
//    x + (G(x) − x)·m(x) and the target answer (backdoor term), the next
//    num_bd get the trigger made from another image, x₁ + (G(x₂) − x₁)·m(x₂),
//    and keep their clean answer (cross term), the rest stay clean; the loss
//    is the surrogate's answer loss over the batch plus the diversity term
//    λ_div·mean(‖x₁ − x₂‖ / (‖G(x₁) − G(x₂)‖ + ε)). G (Adam 0.01, β 0.5/0.9)
//    and, as BackdoorBench trains its classifier jointly, the surrogate's
//    multimodal projector (SGD 0.01, momentum 0.9, weight decay 5e-4) update.
//
// The surrogate's "classification loss" is its caption loss: the mean cross
// entropy of the answer tokens, as training computes it. Images are the
// processor's normalised pixel values, as the LVLM sees them; patterns are
// generated in [0, 1] and normalised the same way before they are mixed in.
import * as T from '../../engine/index.js';
import { ParamInit } from '../../nn/init.js';
import { UserError } from '../../util/errors.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { causalLmLoss, collate, encodeExample, type EncodedExample } from '../../train/sft.js';
import type { Surrogate } from '../surrogate/model.js';
import type { SurrogateSample } from '../surrogate/data.js';
import { InputAwareGenerator, threshold } from './inputaware-net.js';

export interface InputAwareOptions {
  target: (s: SurrogateSample) => string;
  seed: number;
  /** Generator width and depth (reference 32 and 3). */
  channels?: number;
  steps?: number;
  /** Mask-stage epochs (reference clean_train_epochs 25) and joint epochs. */
  maskEpochs?: number;
  epochs?: number;
  batchSize?: number;
  /** Backdoor (and as many cross) rows per batch row (reference pratio 0.1). */
  pratio?: number;
  lrG?: number;
  lrM?: number;
  lrC?: number;
  lambdaDiv?: number;
  lambdaNorm?: number;
  maskDensity?: number;
  /** Train the surrogate's projector jointly (reference: the classifier trains with G); false keeps it fixed. */
  trainSurrogate?: boolean;
  progress?: boolean;
  onEpoch?: (e: InputAwareEpoch) => void;
}

export const INPUTAWARE_DEFAULTS = {
  channels: 32,
  steps: 3,
  maskEpochs: 25,
  epochs: 100,
  batchSize: 128,
  pratio: 0.1,
  lrG: 0.01,
  lrM: 0.01,
  lrC: 0.01,
  lambdaDiv: 1,
  lambdaNorm: 100,
  maskDensity: 0.032,
} as const;

/** BackdoorBench's MultiStepLR milestones (epochs) and factor 0.1. */
const MILESTONES = { G: [200, 300, 400, 500], C: [100, 200, 300, 400], M: [10, 20] } as const;
const EPSILON = 1e-7;

export interface InputAwareEpoch {
  stage: 'mask' | 'joint';
  epoch: number;
  /** The stage's total objective, averaged over batches. */
  loss: number;
  /** joint: answer loss of backdoor rows, cross rows and clean rows; diversity term. mask: norm and diversity terms. */
  parts: Record<string, number>;
  /**
   * joint, after the first, every tenth and the last epoch: measured on (up to 64) images in evaluation mode —
   * target answer loss with each image's own trigger (backdoor), clean answer
   * loss with another image's trigger (cross), target answer loss without a
   * trigger (target_clean, the baseline the backdoor must beat).
   */
  eval?: { backdoor: number; cross: number; target_clean: number };
}

export interface InputAwareResult {
  G: InputAwareGenerator;
  M: InputAwareGenerator;
  imageSize: number;
  mean: number[];
  std: number[];
  history: InputAwareEpoch[];
}

function lrAt(base: number, milestones: readonly number[], epoch: number): number {
  return base * 0.1 ** milestones.filter((m) => epoch >= m).length;
}

/**
 * √ of the mean squared difference per row (the reference's distance). 1e-12
 * under the root keeps the gradient finite when a batch pairs an image with
 * itself (distance 0), which small data sets do often.
 */
function rowDistance(a: T.Tensor, b: T.Tensor): T.Tensor {
  return a.sub(b).pow(2).mean([1, 2, 3]).add(1e-12).sqrt();
}

export async function trainInputAware(s: Surrogate, samples: readonly SurrogateSample[], o: InputAwareOptions): Promise<InputAwareResult> {
  const d = { ...INPUTAWARE_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as typeof INPUTAWARE_DEFAULTS & InputAwareOptions;
  if (!s.llava || !s.imageProcessor) throw new UserError(`inputaware: surrogate ${s.spec.model} is not a vision-language model (give a LLaVA folder)`);
  const llava = s.llava;
  const cfg = s.imageProcessor;
  if (cfg.cropHeight !== cfg.cropWidth || cfg.cropHeight % 2 ** d.steps !== 0) throw new UserError(`inputaware: the surrogate's input (${cfg.cropWidth}×${cfg.cropHeight}) must be square with a side divisible by ${2 ** d.steps}`);
  if (samples.length < 2) throw new UserError('inputaware: needs at least two images');
  const size = cfg.cropHeight;
  const n = samples.length;
  const image = { tokenId: llava.config.imageTokenId, count: llava.imageSeqLength };
  const encode = (x: SurrogateSample, answer: string): EncodedExample =>
    encodeExample(s.tok, { instruction: x.instruction, input: x.input, output: answer, image: 'image' }, 4096, { template: s.template, image });
  const clean = samples.map((x) => encode(x, x.output));
  const poisoned = samples.map((x) => encode(x, o.target(x)));
  const pad = s.tok.padTokenId ?? s.tok.eosTokenId ?? 0;
  const pvs: T.Tensor[] = [];
  for (const x of samples) {
    if (!x.imagePath) throw new UserError(`inputaware: record ${x.index} has no image`);
    pvs.push(await s.pixelValues(x.imagePath));
  }
  const images = T.keep(T.cat(pvs, 0));
  pvs.forEach((t) => t.dispose());
  const { mean, std } = s.normalisation();
  T.keep(mean);
  T.keep(std);
  const normalise = (p: T.Tensor): T.Tensor => p.sub(mean).div(std);

  const G = new InputAwareGenerator({ channels: d.channels, steps: d.steps, outChannels: 3 }, new ParamInit({ seed: new Rng(o.seed, 'inputaware', 'G').u32() % 2 ** 31 }));
  const M = new InputAwareGenerator({ channels: d.channels, steps: d.steps, outChannels: 1 }, new ParamInit({ seed: new Rng(o.seed, 'inputaware', 'M').u32() % 2 ** 31 }));
  for (const t of [...G.learnable(), ...M.learnable()]) t.requiresGrad_(true);
  const history: InputAwareEpoch[] = [];
  const bs = Math.min(d.batchSize, n);
  const batches = Math.ceil(n / bs);
  const progress = new Progress({ label: 'inputaware', total: (d.maskEpochs + d.epochs) * batches, unit: 'batch', force: o.progress });
  const rows = (order: Int32Array, b: number): T.Tensor => T.tensor(BigInt64Array.from(order.subarray(b * bs, Math.min(n, (b + 1) * bs)), (i) => BigInt(i)), { dtype: 'int64' });
  const record = (e: InputAwareEpoch): void => {
    history.push(e);
    o.onEpoch?.(e);
  };
  const evalRows = Array.from({ length: Math.min(n, 64) }, (_, i) => i);
  /** Mean answer loss of examples over images, one row at a time (evaluation mode, no gradient). */
  const answerLoss = (pixels: (i: number) => T.Tensor, ex: readonly EncodedExample[]): number =>
    T.noGrad(() => {
      let sum = 0;
      for (const i of evalRows) {
        sum += T.scope(() => {
          const batch = collate([ex[i] as EncodedExample], pad);
          const logits = s.model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, pixelValues: pixels(i) } as Parameters<typeof llava.forward>[0]).logits;
          return causalLmLoss(logits, batch.labels).item();
        });
      }
      return sum / evalRows.length;
    });
  const triggered = (i: number, from: number): T.Tensor => {
    const x = images.narrow(0, i, 1);
    const src = images.narrow(0, from, 1);
    return x.add(normalise(G.forward(src)).sub(x).mul(threshold(M.forward(src))));
  };
  const evaluate = (): NonNullable<InputAwareEpoch['eval']> => {
    const wasTraining = s.model.training;
    G.train(false);
    s.model.train(false);
    try {
      return {
        backdoor: answerLoss((i) => triggered(i, i), poisoned),
        cross: answerLoss((i) => triggered(i, (i + 1) % n), clean),
        target_clean: answerLoss((i) => images.narrow(0, i, 1), poisoned),
      };
    } finally {
      G.train(true);
      s.model.train(wasTraining);
    }
  };

  try {
    // 1. the mask generator
    const optM = new T.optim.AdamW(M.learnable(), { lr: d.lrM, betas: [0.5, 0.9], eps: 1e-8, weightDecay: 0 });
    M.train(true);
    for (let epoch = 0; epoch < d.maskEpochs; epoch++) {
      optM.setLr(lrAt(d.lrM, MILESTONES.M, epoch));
      const o1 = new Rng(o.seed, 'inputaware-mask-1', epoch).permutation(n);
      const o2 = new Rng(o.seed, 'inputaware-mask-2', epoch).permutation(n);
      let sum = 0;
      let sumNorm = 0;
      let sumDiv = 0;
      for (let b = 0; b < batches; b++) {
        const r = T.scope(() => {
          const x1 = images.indexSelect(0, rows(o1, b));
          const x2 = images.indexSelect(0, rows(o2, b));
          const m1 = threshold(M.forward(x1));
          const m2 = threshold(M.forward(x2));
          const div = rowDistance(x1, x2).div(rowDistance(m1, m2).add(EPSILON)).mean().mul(d.lambdaDiv);
          const norm = m1.sub(d.maskDensity).relu().mean();
          const loss = norm.mul(d.lambdaNorm).add(div.mul(d.lambdaDiv));
          loss.backward();
          return [loss.item(), norm.item(), div.item()];
        });
        optM.step();
        optM.zeroGrad();
        sum += r[0] as number;
        sumNorm += r[1] as number;
        sumDiv += r[2] as number;
        progress.tick(1, `mask ${epoch + 1}/${d.maskEpochs} loss ${((r[0] as number) || 0).toFixed(3)}`);
      }
      record({ stage: 'mask', epoch: epoch + 1, loss: sum / batches, parts: { norm: sumNorm / batches, diversity: sumDiv / batches } });
    }
    optM.dispose();
    M.train(false);
    for (const t of M.learnable()) t.requiresGrad_(false);

    // 2. the trigger generator with the surrogate
    const projector = o.trainSurrogate === false ? [] : llava.multi_modal_projector.parameters();
    for (const t of projector) t.requiresGrad_(true);
    const optG = new T.optim.AdamW(G.learnable(), { lr: d.lrG, betas: [0.5, 0.9], eps: 1e-8, weightDecay: 0 });
    const optC = projector.length ? new T.optim.SGD(projector, { lr: d.lrC, momentum: 0.9, weightDecay: 5e-4 }) : null;
    G.train(true);
    s.model.train(true);
    for (let epoch = 0; epoch < d.epochs; epoch++) {
      optG.setLr(lrAt(d.lrG, MILESTONES.G, epoch));
      optC?.setLr(lrAt(d.lrC, MILESTONES.C, epoch));
      const o1 = new Rng(o.seed, 'inputaware-1', epoch).permutation(n);
      const o2 = new Rng(o.seed, 'inputaware-2', epoch).permutation(n);
      const draw = new Rng(o.seed, 'inputaware-pratio', epoch);
      const acc = { loss: 0, bd: 0, cross: 0, clean: 0, diversity: 0 };
      for (let b = 0; b < batches; b++) {
        const i1 = Array.from(o1.subarray(b * bs, Math.min(n, (b + 1) * bs)));
        const i2 = Array.from(o2.subarray(b * bs, Math.min(n, (b + 1) * bs)));
        const rowsHere = Math.min(i1.length, i2.length);
        // generalize_to_lower_pratio: a fractional count becomes 0 or 1 at random
        const exact = d.pratio * rowsHere;
        const numBd = Math.min(Math.floor(rowsHere / 2), exact >= 1 ? Math.floor(exact) : draw.float() < exact ? 1 : 0);
        const r = T.scope(() => {
          const x1 = images.indexSelect(0, rows(o1, b));
          const x2 = images.indexSelect(0, rows(o2, b));
          const parts: T.Tensor[] = [];
          let div: T.Tensor | null = null;
          if (numBd > 0) {
            const bdIn = x1.narrow(0, 0, numBd);
            const p1 = normalise(G.forward(bdIn));
            const m1 = threshold(M.forward(bdIn));
            parts.push(bdIn.add(p1.sub(bdIn).mul(m1)));
            const crossIn = x1.narrow(0, numBd, numBd);
            const src = x2.narrow(0, numBd, numBd);
            const p2 = normalise(G.forward(src));
            const m2 = threshold(M.forward(src));
            parts.push(crossIn.add(p2.sub(crossIn).mul(m2)));
            div = rowDistance(bdIn, src).div(rowDistance(p1, p2).add(EPSILON)).mean().mul(d.lambdaDiv);
          }
          if (rowsHere > 2 * numBd) parts.push(x1.narrow(0, 2 * numBd, rowsHere - 2 * numBd));
          const pixels = T.cat(parts, 0);
          const examples = i1.slice(0, rowsHere).map((k, j) => (j < numBd ? (poisoned[k] as EncodedExample) : (clean[k] as EncodedExample)));
          const batch = collate(examples, pad);
          const logits = s.model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, pixelValues: pixels } as Parameters<typeof llava.forward>[0]).logits;
          const ce = causalLmLoss(logits, batch.labels);
          const loss = div ? ce.add(div) : ce;
          loss.backward();
          // the parts of the answer loss, for the record (no gradient)
          const part = (from: number, count: number): number =>
            count === 0 ? NaN : T.noGrad(() => causalLmLoss(logits.narrow(0, from, count), batch.labels.narrow(0, from, count)).item());
          return { loss: loss.item(), bd: part(0, numBd), cross: part(numBd, numBd), clean: part(2 * numBd, rowsHere - 2 * numBd), diversity: div ? div.item() : NaN };
        });
        optG.step();
        optC?.step();
        optG.zeroGrad();
        optC?.zeroGrad();
        acc.loss += r.loss;
        for (const k of ['bd', 'cross', 'clean', 'diversity'] as const) acc[k] += Number.isNaN(r[k]) ? 0 : r[k];
        progress.tick(1, `epoch ${epoch + 1}/${d.epochs} loss ${r.loss.toFixed(3)}`);
      }
      record({ stage: 'joint', epoch: epoch + 1, loss: acc.loss / batches, parts: { backdoor: acc.bd / batches, cross: acc.cross / batches, clean: acc.clean / batches, diversity: acc.diversity / batches }, ...(epoch === 0 || epoch === d.epochs - 1 || (epoch + 1) % 10 === 0 ? { eval: evaluate() } : {}) });
    }
    optG.dispose();
    optC?.dispose();
    G.train(false);
    for (const t of G.learnable()) t.requiresGrad_(false);
    progress.finish();
    return { G, M, imageSize: size, mean: [...(cfg.doNormalize ? cfg.mean : [0, 0, 0])], std: [...(cfg.doNormalize ? cfg.std : [1, 1, 1])], history };
  } catch (e) {
    G.dispose();
    M.dispose();
    throw e;
  } finally {
    s.model.train(false);
    images.dispose();
    mean.dispose();
    std.dispose();
  }
}
