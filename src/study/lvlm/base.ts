// The clean base: a victim-sized LLaVA model whose every part (vision tower,
// projector, decoder) is trained on clean records of the `base` split in all
// visual and instruction domains, so that it captions every domain before it
// is attacked. Each base scene contributes `records_per_scene` records, in
// (visual, instruction) combinations drawn per scene. Built once per
// settings hash; its held-out CIDEr per domain is its own cached stage.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../models/load.js';
import type { LlavaForConditionalGeneration } from '../../models/llava.js';
import { readImageProcessorConfig } from '../../models/image-processor.js';
import { TextTokenizer } from '../../models/tokenizer.js';
import { runTraining } from '../../train/run.js';
import { evaluateCaptions } from '../../eval/caption/coco.js';
import { INSTRUCTION_NAMES, VISUAL_NAMES, instructionDomain, pair, type DomainPair } from '../../data/worlds/captions/domains.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { stageKey, type StageCache } from './cache.js';
import type { ScaleSpec } from './config.js';
import { readLlava } from './examples.js';
import { captionRecords } from './generation.js';
import { newVictimFolder, VICTIM_RECIPE } from './model.js';
import { studyTrainConfig, studyTraining, type StudyTraining } from './victim.js';
import { captionsFile, llavaFile, referencesOf, tokenizerText, type StudyWorld } from './world-stage.js';

export interface StudyBase {
  /** The trained base's model folder. */
  dir: string;
  key: string;
  training: StudyTraining;
}

type RawRecord = Record<string, unknown> & { scene: number };

/** The base's training records (as the world wrote them): `perScene` distinct (visual, instruction) combinations per base scene. */
function baseRecords(w: StudyWorld, perScene: number, seed: number): RawRecord[] {
  const combos = VISUAL_NAMES.flatMap((v) => INSTRUCTION_NAMES.map((i) => pair(v, i)));
  const byCombo = new Map(combos.map((c) => [c.label, new Map((JSON.parse(readFileSync(llavaFile(w, 'base', c), 'utf8')) as RawRecord[]).map((r) => [r.scene, r]))]));
  const scenes = [...(byCombo.get((combos[0] as DomainPair).label) as Map<number, RawRecord>).keys()].sort((a, b) => a - b);
  const out: RawRecord[] = [];
  for (const s of scenes) {
    const rng = new Rng(seed, 'base-combos', s);
    for (const k of rng.sample(combos.length, Math.min(perScene, combos.length))) {
      out.push((byCombo.get((combos[k] as DomainPair).label) as Map<number, RawRecord>).get(s) as RawRecord);
    }
  }
  return out;
}

/**
 * The clean base: a fresh victim-sized model (init/) trained by `bdlab train`
 * with every part trainable on the base records (base.json, image paths in
 * the world folder) into model/.
 */
export async function ensureBase(cache: StageCache, w: StudyWorld, spec: ScaleSpec): Promise<StudyBase> {
  const settings = { stage: 'base', recipe: VICTIM_RECIPE, world: w.key, victim: spec.victim, base: spec.base };
  const key = stageKey(settings);
  const training = await cache.run('base', key, settings, async (dir) => {
    const init = join(dir, 'init');
    newVictimFolder(init, spec.victim, tokenizerText(w), spec.base.seed);
    const data = join(dir, 'base.json');
    writeJsonAtomic(data, baseRecords(w, spec.base.records_per_scene, spec.base.seed));
    const config = studyTrainConfig({ model: init, dataset: data, mediaDir: w.dir, output: join(dir, 'model'), mode: 'base', spec: spec.base, lora: spec.tuning, seed: spec.base.seed });
    return studyTraining(await runTraining({ config, label: 'study: clean base', note: () => {} }));
  });
  return { dir: join(cache.dir('base', key), 'model'), key, training };
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
function captionQuality(domain: string, scenes: readonly number[], outputs: readonly string[], refs: Map<number, string[]>): CaptionQuality {
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
