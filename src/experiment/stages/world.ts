import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { DEFAULT_WORLD, instructionWorld } from '../../data/worlds/instructions/world.js';
import { registerStage } from './registry.js';
import { writeAlpaca } from './records.js';

/**
 * `world`: an embedded data set generated from parameters instead of read from
 * files, so a spec runs anywhere with nothing downloaded. Every world writes
 * the same layout, which the plan refers to before it exists:
 *
 *   train.json                      the clean training set (what attacks poison)
 *   domains/<domain>/test.json      clean test inputs of each domain, with reference answers
 *   defense.json                    clean samples a defender holds (if any)
 *
 * A world is one entry of the registry below; the first domain is the attacker's.
 */
export interface WorldDef {
  name: string;
  description: string;
  modality: 'text' | 'vision';
  domains: readonly string[];
  has: { utility: boolean; defense: boolean };
  /** Integer parameters with their defaults (checked by the spec loader). */
  params: Readonly<Record<string, { default: number; min: number; max: number; doc: string }>>;
  write(dir: string, params: Readonly<Record<string, number>>): Promise<void>;
}

const worlds = new Map<string, WorldDef>();

export function registerWorld(w: WorldDef): void {
  if (worlds.has(w.name)) throw new Error(`world ${w.name} registered twice`);
  worlds.set(w.name, w);
}

export function worldDef(name: string): WorldDef | undefined {
  return worlds.get(name);
}

export function worldNames(): string[] {
  return [...worlds.keys()].sort();
}

export const WORLD_FILES = {
  train: 'train.json',
  test: (domain: string): string => `domains/${domain}/test.json`,
  defense: 'defense.json',
} as const;

registerWorld({
  name: 'instructions',
  description: 'the instruction world (src/data/worlds/instructions): echo, first-word, category and review tasks with checkable answers; held-out test items asked in the attacker\'s phrasings and in a user\'s',
  modality: 'text',
  domains: ['attacker', 'user'],
  has: { utility: true, defense: true },
  params: {
    seed: { default: 0, min: 0, max: 2 ** 31 - 1, doc: 'seed of the world\'s content and splits (the same for every run seed)' },
    train_per_family: { default: DEFAULT_WORLD.trainPerFamily, min: 1, max: 5000, doc: 'training records per task family' },
    val_per_family: { default: DEFAULT_WORLD.valPerFamily, min: 1, max: 1000, doc: 'validation records per family: the defender\'s clean set and the detection calibration' },
    test_per_family: { default: DEFAULT_WORLD.testPerFamily, min: 1, max: 1000, doc: 'held-out test records per family, in each domain' },
  },
  async write(dir, p) {
    const w = instructionWorld({ seed: p.seed as number, trainPerFamily: p.train_per_family, valPerFamily: p.val_per_family, testPerFamily: p.test_per_family });
    writeAlpaca(join(dir, WORLD_FILES.train), w.train);
    writeAlpaca(join(dir, WORLD_FILES.test('attacker')), w.test);
    writeAlpaca(join(dir, WORLD_FILES.test('user')), w.test_user);
    // the defender's clean samples: the validation split, never trained on and never tested
    writeAlpaca(join(dir, WORLD_FILES.defense), w.val);
  },
});

export interface WorldParams {
  name: string;
  params: Record<string, number>;
}

export const worldStage = registerStage<WorldParams, { world: string; domains: string[] }>({
  kind: 'world',
  version: 2,
  describe: (p) => `generate the ${p.name} world`,
  async run(ctx) {
    const w = worldDef(ctx.params.name);
    if (!w) throw new UserError(`unknown world "${ctx.params.name}"; known: ${worldNames().join(', ')}`);
    const defaults = Object.fromEntries(Object.entries(w.params).map(([k, d]) => [k, d.default]));
    await w.write(ctx.dir, { ...defaults, ...ctx.params.params });
    return { world: w.name, domains: [...w.domains] };
  },
});
