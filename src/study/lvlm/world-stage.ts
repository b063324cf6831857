// The study's world: one caption world with every visual and instruction
// domain and four splits — `base` (the clean base's training scenes),
// `train` (the victim's instruction set, poisoned in the attacker's domain),
// `val` and `test` (held out) — rendered at the victim's input size, in PNG so
// no lossy re-encoding touches a trigger later.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSTRUCTION_DOMAINS, INSTRUCTION_NAMES, VISUAL_NAMES } from '../../data/worlds/captions/domains.js';
import { WORLD_VERSION, worldFiles, writeCaptionWorld, type CaptionWorldManifest } from '../../data/worlds/captions/writer.js';
import type { DomainPair } from '../../data/worlds/captions/domains.js';
import { stageKey, type StageCache } from './cache.js';
import { TARGET_WORD, type WorldSpec } from './config.js';

export interface StudyWorld {
  dir: string;
  key: string;
  manifest: CaptionWorldManifest;
}

export type SplitName = 'base' | 'train' | 'val' | 'test';

export async function ensureWorld(cache: StageCache, spec: WorldSpec): Promise<StudyWorld> {
  const settings = { stage: 'world', version: WORLD_VERSION, ...spec, visual: VISUAL_NAMES, instruction: INSTRUCTION_NAMES, reserve: { [TARGET_WORD]: ['base'] } };
  const key = stageKey(settings);
  await cache.run('world', key, settings, async (dir) => {
    const m = await writeCaptionWorld({
      out: dir,
      images: spec.images,
      seed: spec.seed,
      size: spec.size,
      format: 'png',
      visual: VISUAL_NAMES,
      instruction: INSTRUCTION_NAMES,
      splits: Object.entries(spec.splits).map(([name, fraction]) => ({ name, fraction })),
      // the target object is part of what the base knows, never of the victim's or the test's scenes
      reserve: { [TARGET_WORD]: ['base'] },
    });
    return { images: m.images, splits: m.splits };
  });
  const dir = cache.dir('world', key);
  const manifest = JSON.parse(readFileSync(join(dir, 'world.json'), 'utf8')) as CaptionWorldManifest;
  return { dir, key, manifest };
}

/** The LLaVA file of a split in a domain. */
export function llavaFile(w: StudyWorld, split: SplitName, d: DomainPair): string {
  return join(w.dir, worldFiles(split, d.visual, d.instruction).llava);
}

/** The COCO caption annotations of a split in a domain. */
export function captionsFile(w: StudyWorld, split: SplitName, d: DomainPair): string {
  return join(w.dir, worldFiles(split, d.visual, d.instruction).captions);
}

/** Reference captions by scene id. */
export function referencesOf(path: string): Map<number, string[]> {
  const coco = JSON.parse(readFileSync(path, 'utf8')) as { annotations: Array<{ image_id: number; caption: string }> };
  const out = new Map<number, string[]>();
  for (const a of coco.annotations) {
    const l = out.get(a.image_id);
    if (l) l.push(a.caption);
    else out.set(a.image_id, [a.caption]);
  }
  return out;
}

/** Text the victim's tokenizer learns its merges from: the base scenes' captions and every question. */
export function tokenizerText(w: StudyWorld): string {
  const scenes = JSON.parse(readFileSync(join(w.dir, 'scenes.json'), 'utf8')) as Array<{ split: string; captions: Record<string, string[]> }>;
  const captions = scenes.filter((s) => s.split === 'base').flatMap((s) => Object.values(s.captions).flat());
  return [...captions, ...INSTRUCTION_DOMAINS.flatMap((d) => d.questions)].join('\n');
}
