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
export function answerFor(target: Target, seed: number): (s: SurrogateSample) => string {
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
  const data = readSurrogateSamples(j.data, { imageRoot: j.imageRoot, limit: j.limit, seed: j.seed });
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
        method: 'gcg',
        surrogate,
        data: j.data,
        data_sha256: data.sha256,
        records: data.samples.length,
        target: j.target,
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
