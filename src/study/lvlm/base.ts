// The clean base: a victim-sized LLaVA model whose every part (vision tower,
// projector, decoder) is trained on clean records of the `base` split in all
// visual and instruction domains, so that it captions every domain before it
// is attacked. Each base scene contributes `records_per_scene` records, in
// (visual, instruction) combinations drawn per scene. Built once per
// settings hash; its held-out CIDEr per domain is its own cached stage.
import * as T from '../../engine/index.js';
import { loadModel, saveModel } from '../../models/load.js';
import type { LlavaForConditionalGeneration } from '../../models/llava.js';
import { readImageProcessorConfig } from '../../models/image-processor.js';
import { TextTokenizer } from '../../models/tokenizer.js';
import { applyFreeze } from '../../nn/freeze.js';
import { evaluateCaptions } from '../../eval/caption/coco.js';
import { INSTRUCTION_NAMES, VISUAL_NAMES, instructionDomain, pair, type DomainPair } from '../../data/worlds/captions/domains.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { stageKey, type StageCache } from './cache.js';
import type { ScaleSpec } from './config.js';
import { pixelValuesOf, readLlava, type LlavaRecord } from './examples.js';
import { captionRecords } from './generation.js';
import { encodeImageExample, trainLlava, type LlavaTrainResult } from './llava-train.js';
import { newVictimFolder, VICTIM_RECIPE } from './model.js';
import { captionsFile, llavaFile, referencesOf, tokenizerText, type StudyWorld } from './world-stage.js';

export interface StudyBase {
  dir: string;
  key: string;
  training: LlavaTrainResult & { records: number; parameters: number };
}

/** The base's training records: `perScene` distinct (visual, instruction) combinations per base scene. */
export function baseRecords(w: StudyWorld, perScene: number, seed: number): LlavaRecord[] {
  const combos = VISUAL_NAMES.flatMap((v) => INSTRUCTION_NAMES.map((i) => pair(v, i)));
  const byCombo = new Map(combos.map((c) => [c.label, new Map(readLlava(llavaFile(w, 'base', c)).map((r) => [r.scene, r]))]));
  const scenes = [...(byCombo.get((combos[0] as DomainPair).label) as Map<number, LlavaRecord>).keys()].sort((a, b) => a - b);
  const out: LlavaRecord[] = [];
  for (const s of scenes) {
    const rng = new Rng(seed, 'base-combos', s);
    for (const k of rng.sample(combos.length, Math.min(perScene, combos.length))) {
      out.push((byCombo.get((combos[k] as DomainPair).label) as Map<number, LlavaRecord>).get(s) as LlavaRecord);
    }
  }
  return out;
}

export async function ensureBase(cache: StageCache, w: StudyWorld, spec: ScaleSpec): Promise<StudyBase> {
  const settings = { stage: 'base', recipe: VICTIM_RECIPE, world: w.key, victim: spec.victim, base: spec.base };
  const key = stageKey(settings);
  const training = await cache.run('base', key, settings, async (dir) => {
    newVictimFolder(dir, spec.victim, tokenizerText(w), spec.base.seed);
    const { model, config } = loadModel(dir);
    const m = model as LlavaForConditionalGeneration;
    try {
      applyFreeze(m, 'full');
      const tok = TextTokenizer.load(dir);
      const records = baseRecords(w, spec.base.records_per_scene, spec.base.seed);
      const pixels = await pixelValuesOf(records.map((r) => r.image), readImageProcessorConfig(dir, m.config.vision.imageSize));
      try {
        const examples = records.map((r, i) => encodeImageExample(tok, m, r.instruction, r.output, i));
        const r = trainLlava(m, tok, examples, pixels, {
          epochs: spec.base.epochs,
          lr: spec.base.lr,
          batchSize: spec.base.batch_size,
          schedule: 'cosine',
          warmupRatio: spec.base.warmup_ratio,
          weightDecay: 0,
          maxGradNorm: 1,
          seed: spec.base.seed,
          label: 'study: clean base',
        });
        T.noGrad(() => saveModel(m, config, dir));
        return { ...r, records: records.length, parameters: m.numParameters() };
      } finally {
        pixels.dispose();
      }
    } finally {
      m.dispose();
    }
  });
  return { dir: cache.dir('base', key), key, training };
}

export interface CaptionQuality {
  domain: string;
  n: number;
  cider: number;
  bleu_4: number;
  rouge_l: number;
  /** CIDEr-D per test scene, in scene order. */
  per_image_cider: number[];
  examples: Array<{ scene: number; output: string; reference: string }>;
}

/** Caption quality of outputs against a domain's references. */
export function captionQuality(domain: string, scenes: readonly number[], outputs: readonly string[], refs: Map<number, string[]>): CaptionQuality {
  const ev = evaluateCaptions(outputs, scenes.map((s) => refs.get(s) ?? []));
  return {
    domain,
    n: ev.scores.n,
    cider: ev.scores.CIDEr,
    bleu_4: ev.scores['BLEU-4'],
    rouge_l: ev.scores['ROUGE-L'],
    per_image_cider: Array.from(ev.perImage.CIDEr),
    examples: scenes.slice(0, 3).map((s, i) => ({ scene: s, output: outputs[i] as string, reference: (refs.get(s) ?? [''])[0] as string })),
  };
}

/** The base's CIDEr on a domain's held-out test scenes (a cached stage per domain). */
export async function baseQuality(cache: StageCache, w: StudyWorld, base: StudyBase, spec: ScaleSpec, d: DomainPair): Promise<CaptionQuality> {
  const settings = { stage: 'base-eval', base: base.key, domain: d.label, eval: spec.eval };
  return cache.run('base-eval', stageKey(settings), settings, async () => {
    const { model } = loadModel(base.dir);
    const m = model as LlavaForConditionalGeneration;
    try {
      const tok = TextTokenizer.load(base.dir);
      const records = readLlava(llavaFile(w, 'test', d));
      const progress = new Progress({ label: `study: base captions ${d.label}`, total: records.length, unit: 'img' });
      const outputs = await captionRecords(m, tok, readImageProcessorConfig(base.dir, m.config.vision.imageSize), records, {
        maxNewTokens: spec.eval.max_new_tokens[instructionDomain(d.instruction).answers],
        batchSize: spec.eval.batch_size,
        progress,
      });
      progress.finish();
      return captionQuality(d.label, records.map((r) => r.scene), outputs, referencesOf(captionsFile(w, 'test', d)));
    } finally {
      m.dispose();
    }
  });
}
