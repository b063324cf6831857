// Poisoning in the study, through the project's poisoner (src/attacks):
// - the victim's instruction set: the attacker domain's `train` file with a
//   share of records triggered and answered with the target caption;
// - triggered test sets: every test record of a domain triggered, answers
//   kept. A user domain's test file is already shifted (the world renders and
//   asks in that domain), so the shift comes first and the trigger second.
// World images are PNG at the victim's input size: triggers land on the
// pixels the model sees, and the rewrite re-encodes them losslessly.
import { join } from 'node:path';
import { createAttack } from '../../attacks/index.js';
import { parseTarget } from '../../attacks/targets.js';
import { poison } from '../../attacks/poisoner.js';
import type { DomainPair } from '../../data/worlds/captions/domains.js';
import { stageKey, type StageCache } from './cache.js';
import type { AttackSetting } from './config.js';
import { llavaFile, type StudyWorld } from './world-stage.js';

export interface PoisonedSet {
  key: string;
  /** The LLaVA file and the folder its image paths are relative to. */
  file: string;
  imageRoot: string;
  counts: { records: number; poisoned: number; negatives: number };
  /** The attack's resolved parameters (e.g. the text trigger drawn from the seed). */
  params: Record<string, unknown>;
}

interface PoisonValue {
  counts: PoisonedSet['counts'];
  params: Record<string, unknown>;
}

function setOf(cache: StageCache, kind: string, key: string, v: PoisonValue): PoisonedSet {
  const dir = cache.dir(kind, key);
  return { key, file: join(dir, 'data.json'), imageRoot: join(dir, 'images'), counts: v.counts, params: v.params };
}

/** The victim's instruction set: `rate` of the attacker domain's training records poisoned towards `target`. */
export async function poisonTraining(cache: StageCache, w: StudyWorld, attacker: DomainPair, a: AttackSetting, rate: number, seed: number, target: string): Promise<PoisonedSet> {
  const settings = { stage: 'poison', world: w.key, domain: attacker.label, attack: a, rate, seed, target };
  const key = stageKey(settings);
  const v = await cache.run<PoisonValue>('poison', key, settings, async (dir) => {
    const r = await poison({ input: llavaFile(w, 'train', attacker), format: 'llava', attack: createAttack(a.name, a.params, seed), target: parseTarget(target), seed, out: dir, selection: { rate }, progress: false });
    const m = r.manifest;
    return { counts: { records: m.counts.valid, poisoned: m.counts.poisoned, negatives: m.counts.negatives }, params: m.params };
  });
  return setOf(cache, 'poison', key, v);
}

/** A domain's test records, every one triggered (answers kept). `seedOffset` makes another trigger of the same kind (controls). */
export async function triggeredTest(cache: StageCache, w: StudyWorld, d: DomainPair, a: AttackSetting, seed: number, seedOffset = 0): Promise<PoisonedSet> {
  const settings = { stage: 'trigger', world: w.key, domain: d.label, attack: a, seed, seed_offset: seedOffset };
  const key = stageKey(settings);
  const v = await cache.run<PoisonValue>('trigger', key, settings, async (dir) => {
    const r = await poison({
      input: llavaFile(w, 'test', d),
      format: 'llava',
      attack: createAttack(a.name, a.params, seed + seedOffset),
      target: parseTarget('keep'),
      // the record streams follow the study seed, whatever the trigger's own seed
      seed,
      out: dir,
      selection: { rate: 1 },
      negatives: { count: 0 },
      progress: false,
    });
    const m = r.manifest;
    return { counts: { records: m.counts.valid, poisoned: m.counts.poisoned, negatives: 0 }, params: m.params };
  });
  return setOf(cache, 'trigger', key, v);
}
