// BackdoorBench's LowFrequency trigger (Zeng et al. 2021, resource/
// lowFrequency/universal_pert.py): a universal adversarial perturbation built
// with targeted DeepFool against a surrogate, low-pass filtered by a Gaussian
// after every update and min–max normalised to [0, scale].
//
// The surrogate here is the LVLM of the study: a "class" is an answer, and
// the score the reference takes from the classifier's logits is the answer's
// log-likelihood given the image and the instruction. DeepFool's targeted
// step uses only two classes — the target and the image's own label — so it
// carries over exactly: f(x) = log p(target answer | x) − log p(clean answer |
// x), the image is "fooled" when f > 0, and each iteration adds |f|·∇f/‖∇f‖²
// until it is (overshoot 0.02, at most 200 iterations). The clean answer is
// the record's own answer (the reference uses the classifier's prediction,
// which a trained model's answer is meant to match). Per pass over the shuffled
// images: an image not yet fooled gets its DeepFool perturbation dr, and
// v ← norm(smooth(v + smooth(dr))); passes stop when the share of fooled
// images reaches 1 − delta (delta 0.8), when the last five shares differ by
// less than 0.01, or after 50 passes. v lives in [0, 1] pixel units at the
// model's input size; poisoning adds v·255 to each image, resized.
import * as T from '../../engine/index.js';
import { UserError } from '../../util/errors.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { idTensor, type Surrogate } from '../surrogate/model.js';
import type { SurrogateSample } from '../surrogate/data.js';

export interface UapOptions {
  /** The poisoned answer of each record. */
  target: (s: SurrogateSample) => string;
  seed: number;
  /** Stop when the fooled share reaches 1 − delta (reference 0.8). */
  delta?: number;
  /** Passes over the images at most (reference max_iter_uni 50). */
  maxPasses?: number;
  /** DeepFool overshoot (reference 0.02). */
  overshoot?: number;
  /** DeepFool iterations per image at most (reference max_iter_df 200). */
  maxIterDf?: number;
  /** Gaussian low-pass σ in pixels of the model input (reference gauss_smooth sig 6). */
  sigma?: number;
  /** v is min–max normalised to [0, scale] (reference 0.2). */
  scale?: number;
  progress?: boolean;
  onPass?: (p: UapPass) => void;
}

export const UAP_DEFAULTS = { delta: 0.8, maxPasses: 50, overshoot: 0.02, maxIterDf: 200, sigma: 6, scale: 0.2 } as const;

export interface UapPass {
  pass: number;
  /** Share of images on which the target answer is more likely than the clean one, with v. */
  fooling_rate: number;
  /** Mean of log p(clean) − log p(target) with v (falls as v works). */
  objective: number;
  /** DeepFool runs that converged in this pass. */
  updates: number;
}

export interface UapResult {
  /** [3, H, W] in [0, scale], planar. */
  v: Float32Array;
  width: number;
  height: number;
  /** The same measures without any perturbation. */
  clean: { fooling_rate: number; objective: number };
  passes: UapPass[];
}

/** BackdoorBench's gauss_smooth kernel: a Gaussian of σ = sig pixels sampled at round(5·sig) taps, and the zero padding before the first pixel. */
export function gaussKernel(sig: number): { kernel: Float64Array; before: number } {
  const size = Math.round(sig * 5);
  const sigma = sig * 5;
  const mean = (size - 1) / 2;
  const k = new Float64Array(size);
  let sum = 0;
  for (let t = 0; t < size; t++) {
    const pos = (t - mean) * 5;
    k[t] = Math.exp(-0.5 * (pos / sigma) ** 2);
    sum += k[t] as number;
  }
  for (let t = 0; t < size; t++) k[t] = (k[t] as number) / sum;
  const padd0 = Math.floor(size / 2);
  return { kernel: k, before: padd0 - (1 - (size % 2)) };
}

/** Smooths each of the 3 planes of v [3, H, W] along rows then columns (zero padding, same size). */
function gaussSmooth(v: Float32Array, h: number, w: number, sig: number): Float32Array {
  const { kernel, before } = gaussKernel(sig);
  const n = kernel.length;
  const tmp = new Float32Array(v.length);
  const out = new Float32Array(v.length);
  for (let c = 0; c < 3; c++) {
    const o = c * h * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let t = 0; t < n; t++) {
          const yy = y + t - before;
          if (yy >= 0 && yy < h) s += (kernel[t] as number) * (v[o + yy * w + x] as number);
        }
        tmp[o + y * w + x] = s;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let t = 0; t < n; t++) {
          const xx = x + t - before;
          if (xx >= 0 && xx < w) s += (kernel[t] as number) * (tmp[o + y * w + xx] as number);
        }
        out[o + y * w + x] = s;
      }
    }
  }
  return out;
}

/** BackdoorBench's normalization: (v − min) / (max − min) · scale over the whole array. */
function minMaxScale(v: Float32Array, scale: number): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const out = new Float32Array(v.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < v.length; i++) out[i] = (((v[i] as number) - lo) / range) * scale;
  return out;
}

interface Item {
  sample: SurrogateSample;
  pv: T.Tensor;
  cleanIds: T.Tensor;
  targetIds: T.Tensor;
  cleanAns: T.Tensor;
  targetAns: T.Tensor;
}

class UapOptimizer {
  private readonly items: Item[] = [];
  private readonly std: T.Tensor;
  private readonly h: number;
  private readonly w: number;

  constructor(
    readonly s: Surrogate,
    readonly o: UapOptions,
  ) {
    if (!s.llava || !s.imageProcessor) throw new UserError(`uap: surrogate ${s.spec.model} is not a vision-language model (give a LLaVA folder)`);
    this.std = T.keep(s.normalisation().std);
    this.h = s.imageProcessor.cropHeight;
    this.w = s.imageProcessor.cropWidth;
  }

  async prepare(samples: readonly SurrogateSample[]): Promise<void> {
    for (const sample of samples) {
      if (!sample.imagePath) throw new UserError(`uap: record ${sample.index} has no image`);
      const prompt = this.s.promptIds({ instruction: sample.instruction, input: sample.input, image: 'image' });
      const clean = this.s.answerIds(sample.output);
      const target = this.s.answerIds(this.o.target(sample));
      if (clean.length === 0) throw new UserError(`uap: record ${sample.index} has an empty answer`);
      const pv = T.keep(await this.s.pixelValues(sample.imagePath));
      this.items.push({
        sample,
        pv,
        cleanIds: T.keep(idTensor([[...prompt, ...clean]])),
        targetIds: T.keep(idTensor([[...prompt, ...target]])),
        cleanAns: T.keep(idTensor([clean])),
        targetAns: T.keep(idTensor([target])),
      });
    }
  }

  /** f = log p(target) − log p(clean) at the image plus a [1, 3, H, W] perturbation in [0, 1] pixel units. */
  private margin(it: Item, delta: T.Tensor): T.Tensor {
    const pv = it.pv.add(delta.div(this.std));
    const lt = this.s.answerLogProb(this.s.embeds(it.targetIds, pv), it.targetAns);
    const lc = this.s.answerLogProb(this.s.embeds(it.cleanIds, pv), it.cleanAns);
    return lt.sub(lc).sum();
  }

  private tensorOf(v: Float32Array): T.Tensor {
    return T.tensor(v, { shape: [1, 3, this.h, this.w] });
  }

  /** The fooled share and the mean objective with v. */
  measure(v: Float32Array): { fooling_rate: number; objective: number } {
    return T.noGrad(() =>
      T.scope(() => {
        const d = this.tensorOf(v);
        let fooled = 0;
        let obj = 0;
        for (const it of this.items) {
          const f = this.margin(it, d).item();
          if (f > 0) fooled++;
          obj -= f;
        }
        return { fooling_rate: fooled / this.items.length, objective: obj / this.items.length };
      }),
    );
  }

  /** Targeted DeepFool from the image plus v: the accumulated step (times 1 + overshoot) and the iterations used. */
  deepfool(it: Item, v: Float32Array): { dr: Float32Array; iters: number } {
    const overshoot = this.o.overshoot ?? UAP_DEFAULTS.overshoot;
    const maxIter = this.o.maxIterDf ?? UAP_DEFAULTS.maxIterDf;
    const rTot = new Float32Array(v.length);
    let iters = 0;
    for (;;) {
      const step = T.scope(() => {
        const cur = new Float32Array(v.length);
        for (let i = 0; i < v.length; i++) cur[i] = (v[i] as number) + (1 + overshoot) * (rTot[i] as number);
        const d = this.tensorOf(cur).requiresGrad_(true);
        const f = this.margin(it, d);
        const fv = f.item();
        if (fv > 0) return null;
        const g = T.grad(f, d)[0] as T.Tensor;
        const w = g.toArray() as Float32Array;
        let nn = 0;
        for (const x of w) nn += x * x;
        const r = new Float32Array(w.length);
        // r_i = |f| · w / ‖w‖² (pert · w / ‖w‖ with pert = |f| / ‖w‖); a non-finite step counts as zero, as in the reference
        const k = Math.abs(fv) / nn;
        if (Number.isFinite(k)) for (let i = 0; i < w.length; i++) r[i] = k * (w[i] as number);
        return r;
      });
      if (step === null || iters >= maxIter) break;
      for (let i = 0; i < rTot.length; i++) rTot[i] = (rTot[i] as number) + (step[i] as number);
      iters++;
    }
    for (let i = 0; i < rTot.length; i++) rTot[i] = (1 + overshoot) * (rTot[i] as number);
    return { dr: rTot, iters };
  }

  run(): UapResult {
    const o = this.o;
    const delta = o.delta ?? UAP_DEFAULTS.delta;
    const maxPasses = o.maxPasses ?? UAP_DEFAULTS.maxPasses;
    const maxIter = o.maxIterDf ?? UAP_DEFAULTS.maxIterDf;
    const sigma = o.sigma ?? UAP_DEFAULTS.sigma;
    const scale = o.scale ?? UAP_DEFAULTS.scale;
    let v: Float32Array = new Float32Array(3 * this.h * this.w);
    const clean = this.measure(v);
    const passes: UapPass[] = [];
    const progress = new Progress({ label: 'uap', total: maxPasses * this.items.length, unit: 'image', force: o.progress });
    // the reference starts from a fooling rate of 0, so at least one pass runs
    let fooling = 0;
    for (let pass = 1; pass <= maxPasses && fooling < 1 - delta; pass++) {
      const order = new Rng(o.seed, 'uap-order', pass).permutation(this.items.length);
      let updates = 0;
      for (const k of order) {
        const it = this.items[k] as Item;
        const fooled = T.noGrad(() => T.scope(() => this.margin(it, this.tensorOf(v)).item())) > 0;
        if (!fooled) {
          const { dr, iters } = this.deepfool(it, v);
          // only a DeepFool run that converged updates v (the reference's iter_i < max_iter_df − 1)
          if (iters < maxIter - 1) {
            const sm = gaussSmooth(dr, this.h, this.w, sigma);
            for (let i = 0; i < v.length; i++) sm[i] = (v[i] as number) + (sm[i] as number);
            v = minMaxScale(gaussSmooth(sm, this.h, this.w, sigma), scale);
            updates++;
          }
        }
        progress.tick(1, `pass ${pass} fooled ${fooling.toFixed(2)}`);
      }
      const m = this.measure(v);
      fooling = m.fooling_rate;
      const p: UapPass = { pass, ...m, updates };
      passes.push(p);
      o.onPass?.(p);
      const last = passes.slice(-5).map((x) => x.fooling_rate);
      if (last.length === 5 && Math.max(...last) - Math.min(...last) < 0.01) break;
    }
    progress.finish(`fooled ${fooling.toFixed(2)}`);
    return { v, width: this.w, height: this.h, clean, passes };
  }

  dispose(): void {
    for (const it of this.items) for (const t of [it.pv, it.cleanIds, it.targetIds, it.cleanAns, it.targetAns]) t.dispose();
    this.std.dispose();
  }
}

/** Builds the universal perturbation on the records (the library entry point; `bdlab attack uap` calls it). */
export async function computeUap(s: Surrogate, samples: readonly SurrogateSample[], o: UapOptions): Promise<UapResult> {
  const opt = new UapOptimizer(s, o);
  try {
    await opt.prepare(samples);
    return opt.run();
  } finally {
    opt.dispose();
  }
}
