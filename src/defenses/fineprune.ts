// Fine-pruning (Liu, Dolan-Gavitt and Garg, "Fine-Pruning: Defending Against
// Backdooring Attacks on Deep Neural Networks", RAID 2018) for decoders:
// the MLP channels (the inputs of each block's down_proj) least active on
// clean data — smallest mean |silu(gate)·up| over the clean calibration
// tokens, measured once on the unpruned model — are removed in every block
// (their gate/up rows and down_proj column zeroed), then the pruned model is
// fine-tuned on the clean records with a new LoRA adapter, merged, and the
// pruned channels zeroed again so they stay removed.
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import { num, str } from '../attacks/params.js';
import { UserError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { mergeLora } from '../nn/adapters.js';
import { calibrationSet, decoderLinears, inputStats, linearWeight } from './calibrate.js';
import { largestWithin, loadVictim, readCleanData, saveModelFolder, splitValidation, validationLoss, type Victim } from './common.js';
import { registerDefense } from './registry.js';
import { lmValue, prepareLora, TRAIN_PARAMS, tune, tuneParams } from './tune.js';
import type { DefenseInput, Params } from './types.js';

/** The channels to remove per MLP (keyed by the down_proj's path): the ratio least active by mean |activation|. */
export function dormantChannels(meanAbs: ReadonlyMap<string, Float64Array>, ratio: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [down, act] of meanAbs) {
    const k = Math.floor(act.length * ratio);
    const order = Array.from(act.keys()).sort((a, b) => (act[a] as number) - (act[b] as number) || a - b);
    out.set(down, order.slice(0, k).sort((a, b) => a - b));
  }
  return out;
}

/** Zeroes the channels' gate/up rows and down_proj columns. */
export function removeChannels(model: CausalLM, channels: ReadonlyMap<string, number[]>): void {
  T.noGrad(() => {
    for (const [down, idx] of channels) {
      if (idx.length === 0) continue;
      const mlp = down.slice(0, down.lastIndexOf('.'));
      const dev = linearWeight(model, down).device as T.Device;
      const flags = new Uint8Array(linearWeight(model, down).size(1));
      for (const i of idx) flags[i] = 1;
      for (const [name, dim] of [[`${mlp}.gate_proj`, 0], [`${mlp}.up_proj`, 0], [down, 1]] as const) {
        const w = linearWeight(model, name);
        const pruned = T.scope(() => {
          const mask = T.tensor(flags, { dtype: 'bool', device: dev });
          return w.maskedFill(dim === 0 ? mask.unsqueeze(1) : mask.unsqueeze(0), 0);
        });
        model.setParameter(`${name}.weight`, pruned);
      }
    }
  });
}

const GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

registerDefense({
  name: 'fineprune',
  summary: 'fine-pruning: remove the MLP channels least active on clean records in every block, then fine-tune on them (new LoRA adapter, merged)',
  output: 'model',
  params: [
    {
      name: 'prune_ratio',
      type: 'string',
      default: 'auto',
      doc: `share of each block's MLP channels removed, or auto: the largest of ${GRID.join(', ')} whose clean validation loss before fine-tuning rises by less than tolerance above the unpruned model's (Liu et al. prune until clean accuracy drops)`,
    },
    { name: 'tolerance', type: 'number', default: 0.1, min: 0, doc: 'with auto: the largest rise of the clean validation loss (mean answer-token NLL, nats) a pruning ratio may cause' },
    { name: 'calibration_samples', type: 'int', default: 128, min: 1, doc: 'at most this many clean records measure the activations' },
    ...TRAIN_PARAMS.filter((s) => s.name !== 'adapter').map((s) => (s.name === 'validation' ? { ...s, min: 0.01 } : s)),
  ],
  async run(input: DefenseInput, p: Params) {
    const ratioText = str(p, 'prune_ratio').trim();
    const fixed = ratioText === 'auto' ? null : Number(ratioText);
    if (fixed !== null && !(fixed > 0 && fixed < 1)) throw new UserError(`defense fineprune: prune_ratio must be auto or a number in (0, 1), got "${ratioText}"`);
    const t = tuneParams({ ...p, adapter: 'new' });
    const tolerance = num(p, 'tolerance');
    const data = await readCleanData(input.data);
    const split = splitValidation(data.samples, t.validation, input.seed);
    const base = await loadVictim(input, { mergeAdapter: true });
    let kept: Victim | null = null;
    try {
      const maxLength = t.train.maxLength;
      const set = calibrationSet(base.tok, split.train.slice(0, num(p, 'calibration_samples')), maxLength, 8);
      const downs = decoderLinears(base.model).map((names) => names.find((n) => n.endsWith('.down_proj'))).filter((n): n is string => n !== undefined);
      if (downs.length === 0) throw new UserError(`${input.model}: no MLP down_proj layers to prune`);
      const stats = inputStats(base.model, base.tok, set, downs);
      const meanAbs = new Map([...stats].map(([k, s]) => [k, s.sumAbs.map((v) => v / Math.max(1, s.tokens))]));
      const lossBefore = (await validationLoss(base.model, base.tok, split.validation, maxLength)) as number;
      const tried: Array<{ prune_ratio: number; validation_loss: number }> = [];
      const progress = new Progress({ label: 'fineprune', total: fixed !== null ? 1 : GRID.length, unit: 'candidate' });
      const prunedAt = async (ratio: number): Promise<{ v: Victim; loss: number; channels: Map<string, number[]> }> => {
        const v = await loadVictim(input, { mergeAdapter: true });
        const channels = dormantChannels(meanAbs, ratio);
        removeChannels(v.model, channels);
        const loss = (await validationLoss(v.model, v.tok, split.validation, maxLength)) as number;
        tried.push({ prune_ratio: ratio, validation_loss: loss });
        progress.tick(1, `ratio ${ratio}: validation loss ${loss.toFixed(4)} (unpruned ${lossBefore.toFixed(4)})`);
        return { v, loss, channels };
      };
      let chosen: { ratio: number; channels: Map<string, number[]>; loss: number } = { ratio: 0, channels: new Map(), loss: lossBefore };
      if (fixed !== null) {
        const r = await prunedAt(fixed);
        kept = r.v;
        chosen = { ratio: fixed, channels: r.channels, loss: r.loss };
      } else {
        await largestWithin(GRID, async (ratio) => {
          const r = await prunedAt(ratio);
          if (r.loss - lossBefore >= tolerance) {
            r.v.model.dispose();
            return false;
          }
          kept?.model.dispose();
          kept = r.v;
          chosen = { ratio, channels: r.channels, loss: r.loss };
          return true;
        });
      }
      progress.finish();
      const model = kept ?? base;
      T.manualSeed(input.seed);
      prepareLora(model.model, false, t, input.seed);
      const r = tune(model.model, model.tok, split.train, split.validation, t, { value: lmValue, seed: input.seed, label: 'fineprune' });
      mergeLora(model.model);
      removeChannels(model.model, chosen.channels);
      const lossAfter = await validationLoss(model.model, model.tok, split.validation, maxLength);
      await saveModelFolder(model, input.model, input.out);
      const removed = [...chosen.channels.values()].reduce((a, c) => a + c.length, 0);
      return {
        kind: 'model' as const,
        chosen: {
          prune_ratio: chosen.ratio,
          rule: fixed !== null ? 'given' : `the largest grid ratio whose validation loss before fine-tuning rises < ${tolerance} nats`,
          channels_removed: removed,
          epoch: r.chosenEpoch,
          epoch_rule: t.select === 'best' ? 'the epoch with the lowest validation loss' : 'the last epoch',
        },
        validation: { records: split.validation.length, loss_before: lossBefore, loss_pruned: chosen.loss, loss_after: lossAfter, tried, epochs: r.epochs },
        cost: { steps: r.steps, tokens: r.tokens + set.tokens, calibration_samples: set.samples },
        data: { samples: data.samples.length, train: split.train.length, validation: split.validation.length, sha256: data.sha256 },
        notes: chosen.ratio === 0 ? [`no pruning ratio of the grid kept the validation loss within ${tolerance} nats: only fine-tuned`] : [],
      };
    } finally {
      (kept as Victim | null)?.model.dispose();
      base.model.dispose();
    }
  },
});
