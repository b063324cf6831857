// Fine-pruning (Liu, Dolan-Gavitt and Garg, "Fine-Pruning: Defending Against
// Backdooring Attacks on Deep Neural Networks", RAID 2018) for decoders:
// the MLP channels (the inputs of each block's down_proj) least active on
// clean data — smallest mean |silu(gate)·up| over the clean calibration
// tokens, measured once on the unpruned model — are removed in every block
// (their gate/up rows and down_proj column zeroed), then the pruned model is
// fine-tuned on the clean records with a new LoRA adapter, merged, and the
// pruned channels zeroed again so they stay removed.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import * as T from '../engine/index.js';
import type { CausalLM } from '../models/llama.js';
import { resolveTemplate } from '../models/prompt.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { calibrationSet, decoderLinears, inputStats, linearWeight } from './calibrate.js';
import { cleanLoss, largestWithin, lmValue, loadVictim, readCleanData, saveModelFolder, splitValidation, type Victim } from './common.js';
import { registerDefense } from './registry.js';
import { readDefenseSettings, trainDefense, TRAIN_PARAMS, type DefenseSettings } from './tune.js';
import type { SettingsSource, TrainingRunOptions } from './types.js';

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

const numeric = (v: unknown): unknown => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);

/** Fine-pruning's own settings, validated with bdlab train's keys. */
const FINEPRUNE_KEYS = {
  prune_ratio: z.union([z.literal('auto'), z.preprocess(numeric, z.number().gt(0).lt(1))], { error: 'expected auto or a number in (0, 1)' }).default('auto'),
  tolerance: z.preprocess(numeric, z.number({ error: 'expected a number' }).min(0, { error: 'must be 0 or more' })).default(0.1),
  calibration_samples: z.preprocess(numeric, z.number({ error: 'expected a whole number' }).int().min(1, { error: 'must be at least 1' })).default(128),
};

/** What the pruning step decided, kept beside the pruned model so a resumed run reuses it. */
interface PrunedRecord {
  prune_ratio: number;
  rule: string;
  channels: Record<string, number[]>;
  loss_before: number | null;
  loss_pruned: number | null;
  tried: Array<{ prune_ratio: number; validation_loss: number | null }>;
  calibration_samples: number;
  calibration_tokens: number;
}

const PRUNED_RECORD = 'pruned.json';

/** Measures clean activity, chooses the ratio on the validation split, and writes the pruned model folder. */
async function prune(s: DefenseSettings & { prune_ratio: 'auto' | number; tolerance: number; calibration_samples: number }, prunedDir: string): Promise<PrunedRecord> {
  const data = await readCleanData(s.dataset, { datasetDir: s.dataset_dir, maxSamples: s.max_samples });
  const split = splitValidation(data.samples, s.validation, s.seed);
  const input = { model: s.model_name_or_path, adapter: s.adapter_name_or_path ?? undefined };
  const base = await loadVictim(input, { mergeAdapter: true });
  let kept: Victim | null = null;
  try {
    const template = resolveTemplate(base.tok, s.template).name;
    const ev = { maxLength: s.cutoff_len, template };
    const set = calibrationSet(base.tok, split.train.slice(0, s.calibration_samples), { maxLength: s.cutoff_len, batchSize: 8, template });
    const downs = decoderLinears(base.model).map((names) => names.find((n) => n.endsWith('.down_proj'))).filter((n): n is string => n !== undefined);
    if (downs.length === 0) throw new UserError(`${s.model_name_or_path}: no MLP down_proj layers to prune`);
    const stats = inputStats(base.model, base.tok, set, downs);
    const meanAbs = new Map([...stats].map(([k, st]) => [k, st.sumAbs.map((v) => v / Math.max(1, st.tokens))]));
    const lossBefore = cleanLoss(base.model, base.tok, split.validation, ev);
    const tried: PrunedRecord['tried'] = [];
    const progress = new Progress({ label: 'fineprune', total: s.prune_ratio === 'auto' ? GRID.length : 1, unit: 'candidate' });
    const prunedAt = async (ratio: number): Promise<{ v: Victim; loss: number | null; channels: Map<string, number[]> }> => {
      const v = await loadVictim(input, { mergeAdapter: true });
      const channels = dormantChannels(meanAbs, ratio);
      removeChannels(v.model, channels);
      const loss = cleanLoss(v.model, v.tok, split.validation, ev);
      tried.push({ prune_ratio: ratio, validation_loss: loss });
      progress.tick(1, `ratio ${ratio}: validation loss ${loss?.toFixed(4) ?? 'n/a'} (unpruned ${lossBefore?.toFixed(4) ?? 'n/a'})`);
      return { v, loss, channels };
    };
    let chosen: { ratio: number; channels: Map<string, number[]>; loss: number | null } = { ratio: 0, channels: new Map(), loss: lossBefore };
    if (s.prune_ratio !== 'auto') {
      const r = await prunedAt(s.prune_ratio);
      kept = r.v;
      chosen = { ratio: s.prune_ratio, channels: r.channels, loss: r.loss };
    } else {
      if (lossBefore === null) throw new UserError('defend fineprune: prune_ratio=auto needs validation data (validation > 0), or give a ratio');
      await largestWithin(GRID, async (ratio) => {
        const r = await prunedAt(ratio);
        if ((r.loss as number) - lossBefore >= s.tolerance) {
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
    await saveModelFolder(kept ?? base, s.model_name_or_path, prunedDir);
    const rec: PrunedRecord = {
      prune_ratio: chosen.ratio,
      rule: s.prune_ratio !== 'auto' ? 'given' : `the largest grid ratio whose validation loss before fine-tuning rises < ${s.tolerance} nats`,
      channels: Object.fromEntries(chosen.channels),
      loss_before: lossBefore,
      loss_pruned: chosen.loss,
      tried,
      calibration_samples: set.samples,
      calibration_tokens: set.tokens,
    };
    writeJsonAtomic(join(prunedDir, PRUNED_RECORD), rec);
    return rec;
  } finally {
    (kept as Victim | null)?.model.dispose();
    base.model.dispose();
  }
}

registerDefense({
  kind: 'training',
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
    ...TRAIN_PARAMS.filter((x) => x.name !== 'create_new_adapter'),
  ],
  async run(src: SettingsSource, o: TrainingRunOptions) {
    const s = readDefenseSettings('fineprune', src, FINEPRUNE_KEYS);
    const cwd = o.cwd ?? process.cwd();
    const out = resolve(cwd, s.output_dir);
    if (!o.resume && !o.force && existsSync(out) && readdirSync(out).length > 0) throw new UserError(`output folder ${out} is not empty (use --force to replace the earlier run, or --resume to continue it)`);
    const prunedDir = join(out, 'pruned');
    const abs = { ...s, model_name_or_path: resolve(cwd, s.model_name_or_path), adapter_name_or_path: s.adapter_name_or_path === null ? null : resolve(cwd, s.adapter_name_or_path) };
    const done = o.resume && existsSync(join(prunedDir, PRUNED_RECORD));
    const p = done ? (JSON.parse(readFileSync(join(prunedDir, PRUNED_RECORD), 'utf8')) as PrunedRecord) : await prune(abs, prunedDir);
    const channels = new Map(Object.entries(p.channels));
    // the pruned model is fine-tuned with a new adapter, merged, and its channels removed again
    const r = await trainDefense(
      { ...abs, model_name_or_path: prunedDir, adapter_name_or_path: null, create_new_adapter: false },
      { label: 'fineprune', value: lmValue, mergeInto: { finish: (model) => removeChannels(model, channels) } },
      { resume: o.resume, force: true, cwd },
    );
    const removed = [...channels.values()].reduce((a, c) => a + c.length, 0);
    return {
      ...r,
      chosen: { prune_ratio: p.prune_ratio, rule: p.rule, channels_removed: removed, epoch: r.chosen.epoch, epoch_rule: r.chosen.epoch_rule, template: r.chosen.template },
      validation: { ...r.validation, loss_before: p.loss_before, loss_pruned: p.loss_pruned, pruning_tried: p.tried },
      cost: { ...r.cost, tokens: r.cost.tokens + p.calibration_tokens, calibration_samples: p.calibration_samples },
      inputs: { ...r.inputs, model: abs.model_name_or_path, adapter: abs.adapter_name_or_path },
      notes: [...(p.prune_ratio === 0 ? [`no pruning ratio of the grid kept the validation loss within ${s.tolerance} nats: only fine-tuned`] : []), `the pruned model before fine-tuning is in ${prunedDir}`],
    };
  },
});
