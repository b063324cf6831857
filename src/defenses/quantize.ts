// Weight quantisation as a defense (CROW's 4-bit baseline), by round to
// nearest (RTN) on groups of consecutive input weights of every decoder
// linear layer:
//   symmetric:  s = max|w| / (2^(b−1) − 1),  q = clamp(round(w/s), −2^(b−1), 2^(b−1) − 1),  w' = s·q
//   asymmetric: lo = min(min w, 0), hi = max(max w, 0), s = (hi − lo)/(2^b − 1),
//               z = round(−lo/s), q = clamp(round(w/s) + z, 0, 2^b − 1),  w' = s·(q − z)
// (GPTQ's RTN quantizer). FAKE quantisation: w' is stored dequantised in the
// model's dtype, so the folder loads anywhere as an ordinary model and
// computes what an int-b model with these scales computes; it is not smaller
// or faster, and bitsandbytes' NF4 (normal-float levels) is a different grid.
// Embeddings and the LM head stay as they are.
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import { num, str, bool } from '../attacks/params.js';
import { UserError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { decoderLinears, linearWeight } from './calibrate.js';
import { cleanLoss, largestWithin, loadVictim, readCleanData, saveModelFolder, splitValidation, type Victim } from './common.js';
import { registerDefense } from './registry.js';
import { TEMPLATE_PARAM } from './tune.js';
import type { DefenseInput, Params } from './types.js';

export interface QuantSpec {
  bits: number;
  /** Consecutive input weights sharing a scale; 0 = the whole row. */
  groupSize: number;
  symmetric: boolean;
}

/** W [out, in] rounded to the b-bit grid of each group, dequantised, in W's dtype. */
export function fakeQuantize(w: T.Tensor, q: QuantSpec, name = 'weight'): T.Tensor {
  const [out, inn] = w.shape as [number, number];
  const g = q.groupSize === 0 ? inn : q.groupSize;
  if (inn % g !== 0) throw new UserError(`quantize: ${name} has ${inn} inputs, not a multiple of group_size ${g} (use a divisor, or 0 for whole rows)`);
  return T.noGrad(() =>
    T.scope(() => {
      const x = w.float().reshape([out, inn / g, g]);
      let deq: T.Tensor;
      if (q.symmetric) {
        const qmax = 2 ** (q.bits - 1) - 1;
        const absmax = x.abs().max(-1, true).values;
        const scale = T.where(absmax.eq(0), 1, absmax.div(qmax));
        deq = x.div(scale).round().clamp(-qmax - 1, qmax).mul(scale);
      } else {
        const levels = 2 ** q.bits - 1;
        const lo = x.min(-1, true).values.clamp(null, 0);
        const hi = x.max(-1, true).values.clamp(0, null);
        const span = hi.sub(lo);
        const scale = T.where(span.eq(0), 1, span.div(levels));
        const zero = lo.neg().div(scale).round();
        deq = x.div(scale).round().add(zero).clamp(0, levels).sub(zero).mul(scale);
      }
      return deq.reshape([out, inn]).to(w.dtype);
    }),
  );
}

/** Quantises every decoder linear layer in place; returns how many weights were rounded. */
export function quantizeModel(model: CausalLM, q: QuantSpec): number {
  let n = 0;
  for (const names of decoderLinears(model)) {
    for (const name of names) {
      const w = linearWeight(model, name);
      model.setParameter(`${name}.weight`, fakeQuantize(w, q, name));
      n += w.numel;
    }
  }
  return n;
}

const AUTO_BITS = [8, 4, 3, 2];

registerDefense({
  kind: 'weights',
  name: 'quantize',
  summary: 'weight quantisation (RTN, int8 or 4-bit with groups): FAKE quantised — rounded weights stored dequantised in the model dtype, so the model stays loadable',
  output: 'model',
  params: [
    {
      name: 'bits',
      type: 'enum',
      default: '4',
      choices: ['auto', '8', '4', '3', '2'],
      doc: `bits per weight, or auto: the fewest of ${AUTO_BITS.join(', ')} whose clean validation loss rises by less than tolerance above the unquantised model's, stepping down until one does not`,
    },
    { name: 'group_size', type: 'int', default: 128, min: 0, doc: 'consecutive input weights sharing one scale (0 = one scale per output row); must divide the input width' },
    { name: 'symmetric', type: 'bool', default: false, doc: 'symmetric (scale only, zero at 0) instead of min–max with a zero point' },
    { name: 'tolerance', type: 'number', default: 0.1, min: 0, doc: 'with bits=auto: the largest rise of the clean validation loss (mean answer-token NLL, nats) allowed' },
    { name: 'validation', type: 'number', default: 0.1, min: 0.01, max: 0.5, doc: 'share of the clean records held out (seeded) to measure the clean loss (and choose bits=auto)' },
    { name: 'max_length', type: 'int', default: 1024, min: 8, doc: 'tokens per validation record, cut beyond' },
    TEMPLATE_PARAM,
  ],
  async run(input: DefenseInput, p: Params) {
    const bitsText = str(p, 'bits');
    const spec = (bits: number): QuantSpec => ({ bits, groupSize: num(p, 'group_size'), symmetric: bool(p, 'symmetric') });
    const tolerance = num(p, 'tolerance');
    const maxLength = num(p, 'max_length');
    const data = await readCleanData([input.data]);
    const split = splitValidation(data.samples, num(p, 'validation'), input.seed);
    const base = await loadVictim(input, { mergeAdapter: true });
    let kept: Victim | null = null;
    try {
      const lossBefore = cleanLoss(base.model, base.tok, split.validation, { maxLength, template: str(p, 'template') }) as number;
      const tried: Array<{ bits: number; validation_loss: number }> = [];
      const progress = new Progress({ label: 'quantize', total: bitsText === 'auto' ? AUTO_BITS.length : 1, unit: 'candidate' });
      const quantizedWith = async (bits: number): Promise<{ v: Victim; loss: number }> => {
        const v = await loadVictim(input, { mergeAdapter: true });
        quantizeModel(v.model, spec(bits));
        const loss = cleanLoss(v.model, v.tok, split.validation, { maxLength, template: str(p, 'template') }) as number;
        tried.push({ bits, validation_loss: loss });
        progress.tick(1, `${bits} bits: validation loss ${loss.toFixed(4)} (unquantised ${lossBefore.toFixed(4)})`);
        return { v, loss };
      };
      let chosen: { bits: number; loss: number } | null = null;
      if (bitsText !== 'auto') {
        const r = await quantizedWith(Number(bitsText));
        kept = r.v;
        chosen = { bits: Number(bitsText), loss: r.loss };
      } else {
        await largestWithin(AUTO_BITS, async (bits) => {
          const r = await quantizedWith(bits);
          if (r.loss - lossBefore >= tolerance) {
            r.v.model.dispose();
            return false;
          }
          kept?.model.dispose();
          kept = r.v;
          chosen = { bits, loss: r.loss };
          return true;
        });
      }
      progress.finish();
      const out = kept ?? base;
      const c = chosen as { bits: number; loss: number } | null;
      await saveModelFolder(out, input.model, input.out);
      return {
        kind: 'model' as const,
        chosen: {
          bits: c?.bits ?? null,
          group_size: num(p, 'group_size'),
          symmetric: bool(p, 'symmetric'),
          rule: bitsText === 'auto' ? `the fewest bits whose validation loss rises < ${tolerance} nats` : 'given',
          fake_quantized: true,
          stored_dtype: out.storedDtype,
        },
        validation: { records: split.validation.length, loss_before: lossBefore, loss_after: c?.loss ?? lossBefore, tried },
        cost: { steps: 0, tokens: 0 },
        data: { samples: data.samples.length, train: split.train.length, validation: split.validation.length, sha256: data.sha256 },
        inputs: { model: input.model, adapter: input.adapter ?? null, data: data.paths },
        output_dir: input.out,
        seed: input.seed,
        notes: [
          'fake quantisation: weights are rounded to the b-bit grid and stored dequantised in the model dtype (same size and speed as the input)',
          ...(c === null ? [`no bit width kept the validation loss within ${tolerance} nats: the model is written unquantised`] : []),
        ],
      };
    } finally {
      (kept as Victim | null)?.model.dispose();
      base.model.dispose();
    }
  },
});
