// GCG (Zou et al. 2023, "Universal and transferable adversarial attacks on
// aligned language models"; llm-attacks' GCGMultiPromptAttack) used to make a
// backdoor trigger: a token sequence optimised against a surrogate model so
// that prompts carrying it (appended to the instruction, as the victim's
// poisoned data will carry it) make the model answer the target.
//
// One step, as the reference: the gradient of the target loss with respect to
// one-hot token indicators (one_hot @ W_E replaces the trigger's embeddings),
// summed over the prompts and normalised per position; the top-k tokens with
// the most negative gradient per position; `batch_size` candidates, each the
// current trigger with one position replaced by a random one of its top-k
// (positions spread evenly over the batch); every candidate evaluated on every
// prompt in batched forwards; the one with the lowest mean loss becomes the
// trigger. Candidates whose text does not tokenise back to the same tokens
// (filter_cand) or that exceed the character budget are dropped. It stops
// early once greedy decoding gives the target on every prompt (the reference
// stops on success too) and returns the lowest-loss trigger seen.
import * as T from '../../engine/index.js';
import { UserError } from '../../util/errors.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { idTensor, type Surrogate } from '../surrogate/model.js';
import type { SurrogateSample } from '../surrogate/data.js';

export interface GcgOptions {
  /** The answer the trigger should produce: one text, or one per prompt (a phrase target's caption, a record's own completion). */
  target: string | ((s: SurrogateSample) => string);
  /** Trigger length in tokens (llm-attacks: 20, "! ! ! ..."). */
  length: number;
  /** Optimisation steps at most (llm-attacks: 500). */
  steps: number;
  /** Candidate tokens per position (llm-attacks: 256). */
  topk: number;
  /** Candidates per step (llm-attacks: 512). */
  batchSize: number;
  seed: number;
  /** Largest trigger length in characters, spaces not counted (0: no limit); the 6/12-character presets. */
  maxChars?: number;
  /** Starting trigger text (default: "!" repeated `length` times, as llm-attacks' control_init). */
  init?: string;
  /** Allow tokens outside printable ASCII (llm-attacks: false). */
  allowNonAscii?: boolean;
  /** Candidates per forward pass (memory bound). */
  evalBatch?: number;
  /** Stop as soon as greedy decoding gives the target on every prompt (default true). */
  stopOnSuccess?: boolean;
  progress?: boolean;
  onStep?: (s: GcgStep) => void;
}

export interface GcgStep {
  step: number;
  loss: number;
  trigger: string;
  /** Prompts on which greedy decoding gives the target. */
  matched: number;
}

export interface GcgResult {
  /** The trigger text as the poisoner inserts it. */
  trigger: string;
  token_ids: number[];
  /** Mean target loss (cross entropy per answer token) of the trigger. */
  loss: number;
  /** Steps taken. */
  steps: number;
  /** Greedy decoding gave the target on every prompt. */
  success: boolean;
  /** Prompts on which it did. */
  matched: number;
  prompts: number;
  /** The loss after each step. */
  losses: number[];
}

const GCG_DEFAULTS = { length: 20, steps: 500, topk: 256, batchSize: 512, init: '!' } as const;

/** Characters of a trigger, spaces not counted (how the study measures trigger length). */
export function triggerChars(text: string): number {
  return text.replace(/\s+/g, '').length;
}

/** One prompt, split around the trigger: embeddings before it, and after it up to and including the target. */
interface PromptParts {
  prefixIds: number[];
  suffixIds: number[];
  prefix: T.Tensor;
  suffix: T.Tensor;
  target: T.Tensor;
  targetLen: number;
  sample: SurrogateSample;
}

/** The instruction with the trigger appended, as the poisoner's `position=end` writes it. */
export function withTrigger(instruction: string, trigger: string): string {
  return instruction.length === 0 ? trigger : `${instruction} ${trigger}`;
}

/** Tokens a trigger may use: not special, decodable, printable (ASCII unless allowed), no inner whitespace. */
function allowedTokens(s: Surrogate, allowNonAscii: boolean): Uint8Array {
  const vocab = s.lm.config.vocabSize;
  const ok = new Uint8Array(vocab);
  // a bare space token is allowed (small vocabularies spell " !" as two tokens); the consistency filter refuses double spaces
  const re = allowNonAscii ? /^ ?[^\s\p{Cc}\p{Cs}\uFFFD]*$/u : /^ ?[\x21-\x7e]*$/;
  for (let id = 0; id < vocab; id++) {
    if (s.tok.idToToken(id) === undefined) continue;
    const plain = s.tok.decode([id], { skipSpecialTokens: true });
    if (plain === '' || plain !== s.tok.decode([id])) continue;
    if (re.test(plain)) ok[id] = 1;
  }
  return ok;
}

class GcgOptimizer {
  private readonly parts: PromptParts[] = [];
  private readonly allowed: Uint8Array;
  private readonly banned: T.Tensor;

  constructor(
    readonly s: Surrogate,
    readonly o: GcgOptions,
  ) {
    this.allowed = allowedTokens(s, o.allowNonAscii ?? false);
    const mask = new Uint8Array(this.allowed.length);
    for (let i = 0; i < mask.length; i++) mask[i] = this.allowed[i] ? 0 : 1;
    this.banned = T.keep(T.tensor(mask, { dtype: 'bool' }));
  }

  /** The trigger text of token ids, as the poisoner inserts it. */
  text(ids: readonly number[]): string {
    return this.s.tok.decode(ids).trim();
  }

  /** True when the trigger's text tokenises back to exactly these ids after a space (llm-attacks' filter_cand) and fits the budget. */
  consistent(ids: readonly number[]): boolean {
    const t = this.text(ids);
    if (t === '' || /\s\s|\n/.test(t)) return false;
    if ((this.o.maxChars ?? 0) > 0 && triggerChars(t) > (this.o.maxChars as number)) return false;
    const back = this.s.tok.encode(` ${t}`, { addSpecialTokens: false });
    return back.length === ids.length && back.every((x, i) => x === ids[i]);
  }

  /** The prompt ids of a sample carrying the trigger, through the one renderer. */
  private fullIds(sample: SurrogateSample, ids: readonly number[]): number[] {
    return this.s.promptIds({ instruction: withTrigger(sample.instruction, this.text(ids)), input: sample.input, ...(sample.imagePath ? { image: 'image' } : {}) });
  }

  /** The starting trigger: `init` repeated (or tokenised) to `length` tokens. */
  initial(): number[] {
    const o = this.o;
    const init = o.init ?? GCG_DEFAULTS.init;
    let ids = this.s.tok.encode(` ${Array<string>(o.length).fill(init).join(' ')}`, { addSpecialTokens: false });
    if (ids.length !== o.length) ids = this.s.tok.encode(` ${init}`, { addSpecialTokens: false });
    if (ids.length !== o.length) {
      // an init that is not one token per copy: pad or cut it to the length with its own tokens
      const base = ids.length ? ids : [this.allowed.findIndex((x) => x === 1)];
      ids = Array.from({ length: o.length }, (_, i) => base[i % base.length] as number);
    }
    if (!this.consistent(ids)) throw new UserError(`gcg: the starting trigger "${this.text(ids)}" does not tokenise back to ${o.length} tokens${o.maxChars ? ` or exceeds ${o.maxChars} characters` : ''}; give another --init`);
    return ids;
  }

  /** Splits each prompt around the trigger and caches its embeddings. */
  async prepare(samples: readonly SurrogateSample[], ids: readonly number[]): Promise<void> {
    for (const sample of samples) {
      const target = this.s.answerIds(typeof this.o.target === 'string' ? this.o.target : this.o.target(sample));
      if (target.length === 0) throw new UserError(`gcg: record ${sample.index}: the target answer is empty`);
      const clean = this.s.promptIds({ instruction: sample.instruction, input: sample.input, ...(sample.imagePath ? { image: 'image' } : {}) });
      const full = this.fullIds(sample, ids);
      let p = 0;
      while (p < clean.length && clean[p] === full[p]) p++;
      const suffixIds = clean.slice(p);
      const spliced = [...clean.slice(0, p), ...ids, ...suffixIds];
      if (spliced.length !== full.length || spliced.some((x, i) => x !== full[i])) {
        throw new UserError(`gcg: record ${sample.index}: the trigger does not sit as whole tokens after the instruction; check the template`);
      }
      const pv = sample.imagePath ? await this.s.pixelValues(sample.imagePath) : undefined;
      const parts = T.noGrad(() =>
        T.scope(() => {
          const emb = this.s.embeds(idTensor([[...clean, ...target]]), pv);
          return {
            prefix: T.keep(emb.narrow(1, 0, p).contiguous()),
            suffix: T.keep(emb.narrow(1, p, emb.size(1) - p).contiguous()),
            target: T.keep(T.tensor(BigInt64Array.from(target, (x) => BigInt(x)), { shape: [target.length] })),
          };
        }),
      );
      pv?.dispose();
      this.parts.push({ prefixIds: clean.slice(0, p), suffixIds, ...parts, targetLen: target.length, sample });
    }
  }

  /** ∂(target loss)/∂(one-hot trigger) summed over prompts, each position's row normalised: [L, V]. */
  gradient(ids: readonly number[]): T.Tensor {
    const W = this.s.embedWeight;
    const V = W.size(0);
    return T.scope(() => {
      const oneHot = T.zeros([ids.length, V]).scatter(1, idTensor(ids.map((i) => [i])), 1).requiresGrad_(true);
      let total: T.Tensor | null = null;
      for (const pp of this.parts) {
        const g = T.scope(() => {
          const trig = oneHot.matmul(W).unsqueeze(0);
          const emb = T.cat([pp.prefix, trig, pp.suffix], 1);
          const logits = this.s.lm.forward({ inputsEmbeds: emb, logitsToKeep: pp.targetLen + 1 }).logits.narrow(1, 0, pp.targetLen);
          const loss = T.crossEntropy(logits.squeeze(0).float(), pp.target);
          return T.grad(loss, oneHot)[0] as T.Tensor;
        });
        total = total ? total.add(g) : g;
      }
      const t = total as T.Tensor;
      return t.div(t.norm(2, -1, true).add(1e-20)).maskedFill(this.banned, Infinity);
    });
  }

  /** `batch` candidates: one position each (spread evenly) set to a random one of its top-k tokens. */
  candidates(ids: readonly number[], grad: T.Tensor, rng: Rng): number[][] {
    const L = ids.length;
    const k = Math.min(this.o.topk, this.allowed.reduce((a, b) => a + b, 0));
    const top = T.scope(() => grad.neg().topk(k, -1).indices.toArray() as BigInt64Array);
    const out: number[][] = [];
    for (let i = 0; i < this.o.batchSize; i++) {
      const pos = Math.floor((i * L) / this.o.batchSize);
      const c = [...ids];
      c[pos] = Number(top[pos * k + rng.int(k)]);
      out.push(c);
    }
    return out;
  }

  /** Mean target loss of each candidate over the prompts, and on how many prompts greedy decoding gives the target. */
  evaluate(cands: readonly number[][]): { loss: Float64Array; matched: Int32Array } {
    const n = cands.length;
    const loss = new Float64Array(n);
    const matched = new Int32Array(n);
    const chunk = Math.max(1, this.o.evalBatch ?? 128);
    const W = this.s.embedWeight;
    T.noGrad(() => {
      for (let c0 = 0; c0 < n; c0 += chunk) {
        const rows = cands.slice(c0, c0 + chunk);
        const b = rows.length;
        T.scope(() => {
          const trig = W.indexSelect(0, idTensor([rows.flat()]).squeeze(0)).view([b, rows[0]?.length ?? 0, W.size(1)]);
          for (const pp of this.parts) {
            const emb = T.cat([pp.prefix.expand([b, pp.prefix.size(1), W.size(1)]), trig, pp.suffix.expand([b, pp.suffix.size(1), W.size(1)])], 1);
            const logits = this.s.lm.forward({ inputsEmbeds: emb, logitsToKeep: pp.targetLen + 1 }).logits.narrow(1, 0, pp.targetLen).float();
            const tgt = pp.target.unsqueeze(0).expand([b, pp.targetLen]);
            const ce = T.crossEntropy(logits.reshape([b * pp.targetLen, -1]), tgt.reshape([b * pp.targetLen]), { reduction: 'none' }).view([b, pp.targetLen]).mean(1);
            // greedy decoding gives the target iff the argmax is the target token at every position
            const hit = logits.argmax(-1).eq(tgt).float().mean(1);
            const ceA = ce.toArray() as Float32Array;
            const hitA = hit.toArray() as Float32Array;
            for (let i = 0; i < b; i++) {
              loss[c0 + i] = (loss[c0 + i] as number) + (ceA[i] as number) / this.parts.length;
              matched[c0 + i] = (matched[c0 + i] as number) + (hitA[i] === 1 ? 1 : 0);
            }
          }
        });
      }
    });
    return { loss, matched };
  }

  /** The renderer gives exactly the spliced ids for this trigger on every prompt. */
  tokenisesInPlace(ids: readonly number[]): boolean {
    return this.parts.every((pp) => {
      const full = this.fullIds(pp.sample, ids);
      const want = [...pp.prefixIds, ...ids, ...pp.suffixIds];
      return full.length === want.length && full.every((x, i) => x === want[i]);
    });
  }

  async run(samples: readonly SurrogateSample[]): Promise<GcgResult> {
    const o = this.o;
    if (samples.length === 0) throw new UserError('gcg: no prompts to optimise on');
    let ids = this.initial();
    await this.prepare(samples, ids);
    let cur = this.evaluate([ids]);
    let best = { ids, loss: cur.loss[0] as number, matched: cur.matched[0] as number };
    const losses: number[] = [];
    const progress = new Progress({ label: 'gcg', total: o.steps, unit: 'step', force: o.progress });
    let step = 0;
    const done = (m: number): boolean => (o.stopOnSuccess ?? true) && m === this.parts.length;
    while (step < o.steps && !done(best.matched)) {
      step++;
      const grad = this.gradient(ids);
      const cands = this.candidates(ids, grad, new Rng(o.seed, 'gcg', step)).filter((c) => this.consistent(c) && c.some((x, i) => x !== ids[i]));
      grad.dispose();
      if (cands.length === 0) {
        losses.push(best.loss);
        progress.tick(1, 'no valid candidate');
        continue;
      }
      cur = this.evaluate(cands);
      const order = Array.from(cands.keys()).sort((a, b) => (cur.loss[a] as number) - (cur.loss[b] as number));
      const pick = order.slice(0, 8).find((i) => this.tokenisesInPlace(cands[i] as number[]));
      if (pick === undefined) {
        losses.push(best.loss);
        progress.tick(1, 'no candidate tokenises in place');
        continue;
      }
      ids = cands[pick] as number[];
      const loss = cur.loss[pick] as number;
      const matched = cur.matched[pick] as number;
      if (matched > best.matched || (matched === best.matched && loss < best.loss)) best = { ids, loss, matched };
      losses.push(loss);
      o.onStep?.({ step, loss, trigger: this.text(ids), matched });
      progress.tick(1, `loss ${loss.toFixed(4)} hit ${matched}/${this.parts.length}`);
    }
    progress.finish(`loss ${best.loss.toFixed(4)}`);
    return {
      trigger: this.text(best.ids),
      token_ids: best.ids,
      loss: best.loss,
      steps: step,
      success: best.matched === this.parts.length,
      matched: best.matched,
      prompts: this.parts.length,
      losses,
    };
  }

  dispose(): void {
    for (const pp of this.parts) {
      pp.prefix.dispose();
      pp.suffix.dispose();
      pp.target.dispose();
    }
    this.banned.dispose();
  }
}

/** Optimises a trigger on the samples against the surrogate (the library entry point; `bdlab attack gcg` calls it). */
export async function optimizeGcg(s: Surrogate, samples: readonly SurrogateSample[], o: GcgOptions): Promise<GcgResult> {
  for (const [k, v] of [['length', o.length], ['steps', o.steps], ['topk', o.topk], ['batchSize', o.batchSize]] as const) {
    if (!Number.isInteger(v) || v < (k === 'steps' ? 0 : 1)) throw new UserError(`gcg: ${k} must be a positive integer, got ${v}`);
  }
  const opt = new GcgOptimizer(s, o);
  try {
    return await opt.run(samples);
  } finally {
    opt.dispose();
  }
}
