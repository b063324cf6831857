// The model-adaptive attacks end to end, for `bdlab attack` and for pipelines
// (the LVLM study passes its surrogate model folder here): read the records,
// load the surrogate, optimise, write the artefact `bdlab poison` reads.
//
//   makeGcgTrigger   → trigger.json   (poison --attack gcg --param trigger=@FILE)
//   makeUap          → uap.json       (poison --attack lowfreq --param perturbation=FILE)
//   trainInputAware  → generator/     (poison --attack inputaware --param generator=DIR)
//
// MABA needs no artefact: poison --attack maba --param model=DIR computes the
// attribution per image.
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { parseTarget, type Target } from './targets.js';
import { Surrogate, type SurrogateInfo } from './surrogate/model.js';
import { readSurrogateSamples, type SurrogateSample } from './surrogate/data.js';
import { optimizeGcg, type GcgResult } from './text/gcg.js';
import { GCG_TRIGGER_FORMAT, type GcgTriggerFile } from './text/gcg-trigger.js';
import type { Sample } from '../data/sample.js';
import { computeUap, UAP_DEFAULTS, type UapOptions, type UapPass } from './image/uap.js';
import { UAP_FORMAT, type UapFile } from './image/lowfreq.js';
import { trainInputAware, INPUTAWARE_DEFAULTS, type InputAwareEpoch, type InputAwareOptions } from './image/inputaware-train.js';
import { saveGenerator } from './image/inputaware-gen.js';

export interface SurrogateJob {
  /** Surrogate model folder and optional adapter. */
  model: string;
  adapter?: string;
  /** Prompt template (default auto, as training). */
  template?: string;
  /** Records to learn from (Alpaca / LLaVA) and their image root. */
  data: string;
  imageRoot?: string;
  /** Records used at most. */
  limit?: number;
  seed: number;
  /** Where the artefact goes. */
  out: string;
}

/** The poisoned answer for a record, as the poisoner writes it for this target spec. */
function answerFor(target: Target, seed: number): (s: SurrogateSample) => string {
  return (s) => {
    const sample: Sample = { index: s.index, id: s.index, instruction: s.instruction, input: s.input, output: s.output };
    const why = target.refuse(sample);
    if (why) throw new UserError(`record ${s.index}: ${why}`);
    return target.apply(sample, new Rng(seed, 'target', s.index)).output;
  };
}

export interface GcgJob extends SurrogateJob {
  /** A target spec, as `bdlab poison --target` takes it. */
  target: string;
  length: number;
  maxChars?: number;
  steps: number;
  topk: number;
  batchSize: number;
  init?: string;
  allowNonAscii?: boolean;
}

export interface GcgSummary extends GcgResult {
  out: string;
  surrogate: SurrogateInfo;
}

/** Optimises a GCG trigger against the surrogate and writes the trigger file. */
export async function makeGcgTrigger(j: GcgJob): Promise<GcgSummary> {
  const target = parseTarget(j.target);
  const data = await readSurrogateSamples(j.data, { imageRoot: j.imageRoot, limit: j.limit, seed: j.seed });
  const s = Surrogate.load({ model: j.model, adapter: j.adapter, template: j.template });
  try {
    const r = await optimizeGcg(s, data.samples, {
      target: answerFor(target, j.seed),
      length: j.length,
      maxChars: j.maxChars,
      steps: j.steps,
      topk: j.topk,
      batchSize: j.batchSize,
      seed: j.seed,
      init: j.init,
      allowNonAscii: j.allowNonAscii,
    });
    const surrogate = s.info;
    const file: GcgTriggerFile = {
      format: GCG_TRIGGER_FORMAT,
      trigger: r.trigger,
      token_ids: r.token_ids,
      provenance: {
        ...provenanceOf('gcg', j, data, surrogate),
        seed: j.seed,
        length: j.length,
        max_chars: j.maxChars ?? 0,
        topk: j.topk,
        batch_size: j.batchSize,
        max_steps: j.steps,
        steps: r.steps,
        final_loss: r.loss,
        success: r.success,
        matched: r.matched,
        prompts: r.prompts,
        losses: r.losses,
      },
    };
    writeJsonAtomic(j.out, file);
    return { ...r, out: j.out, surrogate };
  } finally {
    s.dispose();
  }
}

/** What every artefact made against a surrogate records of how it was made (the method adds its own settings). */
function provenanceOf(method: string, j: SurrogateJob & { target: string }, data: { sha256: string; samples: readonly unknown[] }, surrogate: SurrogateInfo) {
  return { method, surrogate, data: j.data, data_sha256: data.sha256, records: data.samples.length, target: j.target };
}

/** The perturbation settings of `computeUap`, plus the target as `bdlab poison --target` takes it (e.g. phrase:banana). */
export interface UapJob extends SurrogateJob, Pick<UapOptions, 'delta' | 'maxPasses' | 'overshoot' | 'maxIterDf' | 'sigma' | 'scale'> {
  target: string;
}

export interface UapSummary {
  out: string;
  width: number;
  height: number;
  /** max of v·255 (the pattern's largest addition, pixel units) */
  max_addition: number;
  clean: { fooling_rate: number; objective: number };
  passes: UapPass[];
  surrogate: SurrogateInfo;
}

/** Builds BackdoorBench's low-frequency universal perturbation against a LLaVA surrogate and writes the perturbation file. */
export async function makeUap(j: UapJob): Promise<UapSummary> {
  const target = parseTarget(j.target);
  const data = await readSurrogateSamples(j.data, { imageRoot: j.imageRoot, limit: j.limit ?? 100, seed: j.seed, needImages: true });
  const s = Surrogate.load({ model: j.model, adapter: j.adapter, template: j.template });
  try {
    const r = await computeUap(s, data.samples, { target: answerFor(target, j.seed), seed: j.seed, delta: j.delta, maxPasses: j.maxPasses, overshoot: j.overshoot, maxIterDf: j.maxIterDf, sigma: j.sigma, scale: j.scale });
    // planar [3, H, W] in [0, scale] → the additive pattern v·255, interleaved 8-bit (BackdoorBench stores it so)
    const n = r.width * r.height;
    const pattern = new Uint8Array(n * 3);
    let max = 0;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < n; i++) {
        const v = Math.round((r.v[c * n + i] as number) * 255);
        pattern[i * 3 + c] = Math.min(255, Math.max(0, v));
        max = Math.max(max, v);
      }
    }
    const surrogate = s.info;
    const file: UapFile = {
      format: UAP_FORMAT,
      width: r.width,
      height: r.height,
      pattern: Buffer.from(pattern).toString('base64'),
      provenance: {
        ...provenanceOf('uap', j, data, surrogate),
        seed: j.seed,
        delta: j.delta ?? UAP_DEFAULTS.delta,
        max_passes: j.maxPasses ?? UAP_DEFAULTS.maxPasses,
        overshoot: j.overshoot ?? UAP_DEFAULTS.overshoot,
        max_iter_df: j.maxIterDf ?? UAP_DEFAULTS.maxIterDf,
        sigma: j.sigma ?? UAP_DEFAULTS.sigma,
        scale: j.scale ?? UAP_DEFAULTS.scale,
        clean: r.clean,
        passes: r.passes,
      },
    };
    writeJsonAtomic(j.out, file);
    return { out: j.out, width: r.width, height: r.height, max_addition: max, clean: r.clean, passes: r.passes, surrogate };
  } finally {
    s.dispose();
  }
}

/** The generator settings of `trainInputAware`, plus the target as `bdlab poison --target` takes it. */
export interface InputAwareJob extends SurrogateJob, Omit<InputAwareOptions, 'target' | 'seed' | 'progress' | 'onEpoch'> {
  target: string;
}

export interface InputAwareSummary {
  out: string;
  image_size: number;
  history: InputAwareEpoch[];
  surrogate: SurrogateInfo;
}

/** Trains InputAware's trigger and mask generators against a LLaVA surrogate and writes the generator folder. */
export async function trainInputAwareGenerator(j: InputAwareJob): Promise<InputAwareSummary> {
  const target = parseTarget(j.target);
  const data = await readSurrogateSamples(j.data, { imageRoot: j.imageRoot, limit: j.limit, seed: j.seed, needImages: true });
  const s = Surrogate.load({ model: j.model, adapter: j.adapter, template: j.template });
  try {
    const opts = { channels: j.channels, steps: j.steps, maskEpochs: j.maskEpochs, epochs: j.epochs, batchSize: j.batchSize, pratio: j.pratio, lrG: j.lrG, lrM: j.lrM, lrC: j.lrC, lambdaDiv: j.lambdaDiv, lambdaNorm: j.lambdaNorm, maskDensity: j.maskDensity, trainSurrogate: j.trainSurrogate, seed: j.seed };
    const r = await trainInputAware(s, data.samples, { ...opts, target: answerFor(target, j.seed) });
    try {
      const surrogate = s.info;
      const { seed: _seed, ...given } = opts;
      const settings = { ...INPUTAWARE_DEFAULTS, trainSurrogate: true, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) } as typeof INPUTAWARE_DEFAULTS & { trainSurrogate: boolean };
      void _seed;
      saveGenerator(j.out, r.G, r.M, {
        channels: settings.channels,
        steps: settings.steps,
        image_size: r.imageSize,
        mean: r.mean,
        std: r.std,
        provenance: {
          ...provenanceOf('inputaware', j, data, surrogate),
          settings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v])),
          history: r.history,
        },
      });
      return { out: j.out, image_size: r.imageSize, history: r.history, surrogate };
    } finally {
      r.G.dispose();
      r.M.dispose();
    }
  } finally {
    s.dispose();
  }
}
