// Wanda (Sun et al., "A Simple and Effective Pruning Approach for Large
// Language Models", ICLR 2024), as in locuslab/wanda's prune_wanda:
//   score S_ij = |W_ij| · ‖X_j‖₂, X_j = input channel j over the calibration
//   tokens; within each output row, the lowest scores are zeroed —
//   unstructured: floor(in · sparsity) per row; N:M: N of every M consecutive
//   inputs. Blocks are pruned in order, each block's statistics taken with
//   the blocks before it already pruned (all of a block's linear layers from
//   one pass with that block still dense).
// The backdoor's adapter, if any, is merged first; the result is a model folder.
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { num, str } from '../attacks/params.js';
import { UserError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { calibrationSet, decoderLinears, inputStats, linearWeight, type CalibrationSet } from './calibrate.js';
import { cleanLoss, largestWithin, loadVictim, readCleanData, saveModelFolder, splitValidation, type Victim } from './common.js';
import { registerDefense } from './registry.js';
import { TEMPLATE_PARAM } from './tune.js';
import type { DefenseInput, ParamSpec, Params } from './types.js';

export type SparsityPattern = { kind: 'unstructured'; sparsity: number } | { kind: 'nm'; n: number; m: number };

export function parsePattern(s: string): { kind: 'unstructured' } | { kind: 'nm'; n: number; m: number } {
  if (s === 'unstructured') return { kind: 'unstructured' };
  const m = /^(\d+):(\d+)$/.exec(s.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) >= Number(m[2])) throw new UserError(`pattern "${s}": expected unstructured or N:M with 0 < N < M (N zeros in every M consecutive inputs, e.g. 2:4)`);
  return { kind: 'nm', n: Number(m[1]), m: Number(m[2]) };
}

/** Which weights of W [out, in] Wanda zeroes, as a bool mask, given Σ x² per input channel. */
export function wandaMask(w: T.Tensor, sumSquares: Float64Array, p: SparsityPattern): T.Tensor {
  return T.noGrad(() =>
    T.scope(() => {
      const [out, inn] = w.shape as [number, number];
      const norm = T.tensor(Float32Array.from(sumSquares, Math.sqrt), { device: w.device as T.Device });
      const metric = w.float().abs().mul(norm.unsqueeze(0));
      const zeros = T.zeros([out, inn], { device: w.device as T.Device });
      if (p.kind === 'unstructured') {
        const k = Math.floor(inn * p.sparsity);
        if (k === 0) return zeros.gt(0);
        const idx = metric.sort(-1).indices.narrow(1, 0, k);
        return zeros.scatter(1, idx, 1).gt(0);
      }
      if (inn % p.m !== 0) throw new UserError(`N:M pruning needs the input width (${inn}) to be a multiple of M (${p.m})`);
      const g = metric.reshape([out, inn / p.m, p.m]);
      const idx = g.topk(p.n, -1, false).indices;
      return zeros.reshape([out, inn / p.m, p.m]).scatter(2, idx, 1).gt(0).reshape([out, inn]);
    }),
  );
}

/** Prunes the model's decoder linear layers block by block; returns the share of their weights now zero. */
export function wandaPrune(model: CausalLM, tok: TextTokenizer, set: CalibrationSet, p: SparsityPattern): number {
  let zero = 0;
  let total = 0;
  for (const names of decoderLinears(model)) {
    const stats = inputStats(model, tok, set, names);
    for (const name of names) {
      const w = linearWeight(model, name);
      const s = stats.get(name);
      if (!s) throw new Error(`wanda: no calibration input reached ${name}`);
      const mask = wandaMask(w, s.sumSquares, p);
      const pruned = T.noGrad(() => w.maskedFill(mask, 0));
      zero += T.noGrad(() => T.scope(() => pruned.eq(0).sum().item()));
      total += w.numel;
      model.setParameter(`${name}.weight`, pruned);
      mask.dispose();
    }
  }
  return total > 0 ? zero / total : 0;
}

const GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export const PRUNE_PARAMS: ParamSpec[] = [
  { name: 'tolerance', type: 'number', default: 0.1, min: 0, doc: 'with auto: the largest rise of the clean validation loss (mean answer-token NLL, nats; 0.1 ≈ +10 % perplexity) a candidate may cause' },
  { name: 'validation', type: 'number', default: 0.1, min: 0.01, max: 0.5, doc: 'share of the clean records held out (seeded) for the choice; the rest calibrate' },
  { name: 'calibration_samples', type: 'int', default: 128, min: 1, doc: 'at most this many clean records calibrate (Wanda uses 128)' },
  { name: 'max_length', type: 'int', default: 1024, min: 8, doc: 'tokens per record (prompt + answer), cut beyond' },
  { name: 'batch_size', type: 'int', default: 8, min: 1, doc: 'records per calibration forward pass' },
  TEMPLATE_PARAM,
];

registerDefense({
  kind: 'weights',
  name: 'wanda',
  summary: 'Wanda pruning: zero the weights with the smallest |W|·‖X‖ per output row (X from clean calibration records); unstructured or N:M',
  output: 'model',
  params: [
    {
      name: 'sparsity',
      type: 'string',
      default: 'auto',
      doc: `share of weights zeroed per row (unstructured), or auto: the largest of ${GRID.join(', ')} whose clean validation loss rises by less than tolerance above the unpruned model's, stepping up until one does not`,
    },
    { name: 'pattern', type: 'string', default: 'unstructured', doc: 'unstructured, or N:M (N zeros in every M consecutive input weights, e.g. 2:4; sparsity must stay auto)' },
    ...PRUNE_PARAMS,
  ],
  async run(input: DefenseInput, p: Params) {
    const pat = parsePattern(str(p, 'pattern'));
    const sp = str(p, 'sparsity').trim();
    const fixed = sp === 'auto' ? null : Number(sp);
    if (fixed !== null && !(fixed > 0 && fixed < 1)) throw new UserError(`defense wanda: sparsity must be auto or a number in (0, 1), got "${sp}"`);
    if (pat.kind === 'nm' && fixed !== null) throw new UserError('defense wanda: an N:M pattern fixes the sparsity (N/M); leave sparsity=auto');
    const data = await readCleanData([input.data]);
    const split = splitValidation(data.samples, num(p, 'validation'), input.seed);
    const calib = split.train.slice(0, num(p, 'calibration_samples'));
    const maxLength = num(p, 'max_length');
    const tolerance = num(p, 'tolerance');
    const base = await loadVictim(input, { mergeAdapter: true });
    const set = calibrationSet(base.tok, calib, { maxLength, batchSize: num(p, 'batch_size'), template: str(p, 'template') });
    let kept: Victim = base;
    try {
      const lossBefore = cleanLoss(base.model, base.tok, split.validation, { maxLength, template: str(p, 'template') }) as number;
      const tried: Array<{ sparsity: number; validation_loss: number }> = [];
      const progress = new Progress({ label: 'wanda', total: fixed !== null || pat.kind === 'nm' ? 1 : GRID.length, unit: 'candidate' });
      const prunedWith = async (pattern: SparsityPattern): Promise<{ v: Victim; sparsity: number; loss: number }> => {
        const v = await loadVictim(input, { mergeAdapter: true });
        const sparsity = wandaPrune(v.model, v.tok, set, pattern);
        const loss = cleanLoss(v.model, v.tok, split.validation, { maxLength, template: str(p, 'template') }) as number;
        progress.tick(1, `sparsity ${sparsity.toFixed(2)}: validation loss ${loss.toFixed(4)} (unpruned ${lossBefore.toFixed(4)})`);
        return { v, sparsity, loss };
      };
      let chosen: number | null;
      let result = { sparsity: 0, loss: lossBefore };
      const keep = (r: { v: Victim; sparsity: number; loss: number }): void => {
        if (kept !== base) kept.model.dispose();
        kept = r.v;
        result = r;
      };
      if (pat.kind === 'nm' || fixed !== null) {
        const r = await prunedWith(pat.kind === 'nm' ? pat : { kind: 'unstructured', sparsity: fixed as number });
        tried.push({ sparsity: r.sparsity, validation_loss: r.loss });
        keep(r);
        chosen = pat.kind === 'nm' ? pat.n / pat.m : fixed;
      } else {
        const sel = await largestWithin(GRID, async (s) => {
          const r = await prunedWith({ kind: 'unstructured', sparsity: s });
          tried.push({ sparsity: s, validation_loss: r.loss });
          if (r.loss - lossBefore >= tolerance) {
            r.v.model.dispose();
            return false;
          }
          keep(r);
          return true;
        });
        chosen = sel.chosen;
      }
      progress.finish();
      await saveModelFolder(kept, input.model, input.out);
      const notes = chosen === null ? [`no sparsity of the grid kept the validation loss within ${tolerance} nats: the model is written unpruned`] : [];
      return {
        kind: 'model' as const,
        chosen: {
          sparsity: chosen ?? 0,
          pattern: pat.kind === 'nm' ? `${pat.n}:${pat.m}` : 'unstructured',
          rule: fixed !== null || pat.kind === 'nm' ? 'given' : `the largest grid sparsity whose validation loss rises < ${tolerance} nats`,
          achieved_sparsity: result.sparsity,
        },
        validation: { records: split.validation.length, loss_before: lossBefore, loss_after: result.loss, tried },
        cost: { steps: 0, tokens: set.tokens * tried.length * Math.max(1, decoderLinears(base.model).length), calibration_samples: set.samples },
        data: { samples: data.samples.length, train: split.train.length, validation: split.validation.length, sha256: data.sha256 },
        inputs: { model: input.model, adapter: input.adapter ?? null, data: data.paths },
        output_dir: input.out,
        seed: input.seed,
        notes,
      };
    } finally {
      if (kept !== base) kept.model.dispose();
      base.model.dispose();
    }
  },
});
