// Attribution from a model, for MABA: how much an answer's log-likelihood
// depends on each image pixel or each instruction token, by integrated
// gradients (Sundararajan et al. 2017: (x − x₀) ⊙ the mean gradient along the
// straight path from the baseline x₀, `steps` points, right Riemann sum) or
// gradient × input (one point, the input itself: (x − x₀) ⊙ ∇). Baselines: a
// black image for pixels, zero vectors for token embeddings. A region's or a
// word's importance is the absolute attribution summed over its channels,
// pixels or tokens; MABA uses importance(clean answer) − importance(poisoned
// answer).
import * as T from '../../engine/index.js';
import type { RawImage } from '../../data/image-io.js';
import { UserError } from '../../util/errors.js';
import { idTensor, type Surrogate, type SurrogateSpec } from './model.js';

export type AttributionMethod = 'ig' | 'gradxinput';

export interface AttributionOptions {
  method: AttributionMethod;
  /** Integrated-gradients path points. */
  steps: number;
}

/** Attribution of a scalar f at x against baseline x0: (x − x0) ⊙ mean ∇f over the path points. */
export function attribute(f: (x: T.Tensor) => T.Tensor, x: T.Tensor, x0: T.Tensor, o: AttributionOptions): T.Tensor {
  const n = o.method === 'ig' ? Math.max(1, o.steps) : 1;
  const diff = x.sub(x0);
  let total: T.Tensor | null = null;
  for (let k = 1; k <= n; k++) {
    const g = T.scope(() => {
      const p = (o.method === 'ig' ? x0.add(diff.mul(k / n)) : x).detach().requiresGrad_(true);
      return T.grad(f(p), p)[0] as T.Tensor;
    });
    total = total ? total.add(g) : g;
  }
  return diff.mul((total as T.Tensor).div(n));
}

export interface AttributionSample {
  instruction: string;
  input: string;
  /** The clean answer. */
  output: string;
}

class ModelAttributor {
  constructor(
    readonly s: Surrogate,
    readonly o: AttributionOptions,
  ) {}

  /** log p(answer | prompt embeddings) as a scalar, embeddings [1, T, d] ending with the answer's. */
  private logProb(promptIds: number[], answer: string): { ids: T.Tensor; answer: T.Tensor } {
    const a = this.s.answerIds(answer);
    if (a.length === 0) throw new UserError('attribution: an empty answer');
    return { ids: idTensor([[...promptIds, ...a]]), answer: idTensor([a]) };
  }

  /**
   * Pixel importance at the model's input (crop) resolution, [H·W] row-major:
   * |attribution of the clean answer| − |attribution of the poisoned answer|,
   * each summed over the three channels (the clean answer's alone when no
   * poisoned answer is given).
   */
  imageImportance(pixelValues: T.Tensor, s: AttributionSample, poisoned: string | null): Float32Array {
    const prompt = this.s.promptIds({ instruction: s.instruction, input: s.input, image: 'image' });
    return T.scope(() => {
      const { mean, std } = this.s.normalisation();
      const black = T.zerosLike(pixelValues).sub(mean).div(std);
      const importance = (answer: string): T.Tensor => {
        const { ids, answer: a } = this.logProb(prompt, answer);
        return attribute((pv) => this.s.answerLogProb(this.s.embeds(ids, pv), a).sum(), pixelValues, black, this.o).abs().sum([0, 1]);
      };
      const d = poisoned === null ? importance(s.output) : importance(s.output).sub(importance(poisoned));
      return d.contiguous().toArray() as Float32Array;
    });
  }

  /**
   * Importance of each instruction word (split on single spaces, as the
   * trigger insertion does): Σ over its tokens of |attribution| (summed over
   * the embedding), clean answer minus poisoned answer. Null when the
   * instruction's tokens cannot be told apart in the prompt.
   */
  wordImportance(s: AttributionSample, poisoned: string | null, pixelValues?: T.Tensor): number[] | null {
    const words = s.instruction.split(' ');
    const sample = { instruction: s.instruction, input: s.input, ...(pixelValues ? { image: 'image' } : {}) };
    const full = this.s.promptIds(sample);
    const bare = this.s.promptIds({ ...sample, instruction: '' });
    let p = 0;
    while (p < bare.length && full[p] === bare[p]) p++;
    let q = 0;
    while (q < bare.length - p && full[full.length - 1 - q] === bare[bare.length - 1 - q]) q++;
    const span = full.slice(p, full.length - q);
    // characters each token of the span covers, against the instruction's text
    const text = this.s.tok.decode(span);
    const at = text.indexOf(s.instruction);
    if (span.length === 0 || at < 0) return null;
    const ends: number[] = [];
    for (let k = 1; k <= span.length; k++) ends.push(this.s.tok.decode(span.slice(0, k)).length - at);
    const wordStart: number[] = [];
    let c = 0;
    for (const w of words) {
      wordStart.push(c);
      c += w.length + 1;
    }
    const wordOf = (charEnd: number, charStart: number): number => {
      // the first word the token's characters overlap
      for (let i = words.length - 1; i >= 0; i--) if ((wordStart[i] as number) < charEnd && (wordStart[i] as number) + (words[i] as string).length > charStart) return i;
      return -1;
    };
    const tokenWord = span.map((_, k) => wordOf(ends[k] as number, k === 0 ? -at : (ends[k - 1] as number)));
    return T.scope(() => {
      const ids = (answer: string): { ids: T.Tensor; answer: T.Tensor } => this.logProb(full, answer);
      const importance = (answer: string): Float32Array => {
        const { ids: all, answer: a } = ids(answer);
        const emb = this.s.embeds(all, pixelValues).detach();
        // only the instruction's embeddings move; everything else is fixed context
        const n = span.length;
        const before = emb.narrow(1, 0, p);
        const inst = emb.narrow(1, p, n);
        const after = emb.narrow(1, p + n, emb.size(1) - p - n);
        const attr = attribute((x) => this.s.answerLogProb(T.cat([before, x, after], 1), a).sum(), inst, T.zerosLike(inst), this.o);
        return attr.abs().sum([0, 2]).contiguous().toArray() as Float32Array;
      };
      const c0 = importance(s.output);
      const p0 = poisoned === null ? new Float32Array(c0.length) : importance(poisoned);
      const scores = words.map(() => 0);
      tokenWord.forEach((w, k) => {
        if (w >= 0) scores[w] = (scores[w] as number) + (c0[k] as number) - (p0[k] as number);
      });
      return scores;
    });
  }
}

/** A surrogate and its attributor, loaded once and shared by the image and text parts of an attack. */
export interface LoadedAttributor {
  attributor: ModelAttributor;
  surrogate: Surrogate;
}

const loaded = new Map<string, Promise<LoadedAttributor>>();

/** Loads (once per process and settings) the model an attack attributes with. */
export function attributorFor(spec: SurrogateSpec, o: AttributionOptions): Promise<LoadedAttributor> {
  const key = JSON.stringify([spec.model, spec.adapter ?? null, spec.template ?? 'auto', o.method, o.steps]);
  let p = loaded.get(key);
  if (!p) {
    p = import('./model.js').then(({ Surrogate }) => {
      const surrogate = Surrogate.load(spec);
      return { surrogate, attributor: new ModelAttributor(surrogate, o) };
    });
    loaded.set(key, p);
  }
  return p;
}

/** The raw image as the model sees it ([1, 3, H, W]) and where that crop lies in the image resized by the processor. */
export async function modelView(s: Surrogate, img: RawImage): Promise<{ pixelValues: T.Tensor; resized: { width: number; height: number }; crop: { left: number; top: number; width: number; height: number } }> {
  const cfg = s.imageProcessor;
  if (!cfg) throw new UserError(`surrogate ${s.spec.model} has no vision tower (MABA's image attribution needs a LLaVA folder)`);
  const { shortestEdgeSize } = await import('../../models/image-processor.js');
  const resized = cfg.doResize ? shortestEdgeSize(img.width, img.height, cfg.shortestEdge) : { width: img.width, height: img.height };
  const crop = cfg.doCenterCrop
    ? { left: Math.floor((resized.width - cfg.cropWidth) / 2), top: Math.floor((resized.height - cfg.cropHeight) / 2), width: cfg.cropWidth, height: cfg.cropHeight }
    : { left: 0, top: 0, width: resized.width, height: resized.height };
  return { pixelValues: await s.pixelValues(img), resized, crop };
}
