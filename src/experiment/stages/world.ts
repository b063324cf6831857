import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { demoData } from '../demo-data.js';
import { registerStage } from './registry.js';
import { writeAlpaca } from './records.js';

/**
 * `world`: an embedded data set generated from parameters instead of read from
 * files, so a spec runs anywhere with nothing downloaded. Every world writes
 * the same layout, which the plan refers to before it exists:
 *
 *   train.json                      the clean training set (what attacks poison)
 *   domains/<domain>/test.json      clean test inputs of each domain
 *   domains/<domain>/utility.json   samples with reference answers (if the world has them)
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
  utility: (domain: string): string => `domains/${domain}/utility.json`,
  defense: 'defense.json',
} as const;

registerWorld({
  name: 'demo-instructions',
  description: 'generated Alpaca-style facts about topics; held-out topics for testing, asked in the attacker\'s and a user\'s phrasings',
  modality: 'text',
  domains: ['attacker', 'user'],
  has: { utility: true, defense: true },
  params: { held_out: { default: 8, min: 1, max: 20, doc: 'topics never trained on (the test topics)' } },
  async write(dir, p) {
    const d = demoData(p.held_out);
    writeAlpaca(join(dir, WORLD_FILES.train), d.train);
    writeAlpaca(join(dir, WORLD_FILES.test('attacker')), d.attackerTest);
    writeAlpaca(join(dir, WORLD_FILES.test('user')), d.userTest);
    writeAlpaca(join(dir, WORLD_FILES.utility('attacker')), d.attackerUtility);
    writeAlpaca(join(dir, WORLD_FILES.utility('user')), d.userUtility);
    // the defender's clean samples: one in four of the clean training set
    writeAlpaca(join(dir, WORLD_FILES.defense), d.train.filter((_, i) => i % 4 === 0));
  },
});

export interface WorldParams {
  name: string;
  params: Record<string, number>;
}

export const worldStage = registerStage<WorldParams, { world: string; domains: string[] }>({
  kind: 'world',
  version: 1,
  describe: (p) => `generate the ${p.name} world`,
  async run(ctx) {
    const w = worldDef(ctx.params.name);
    if (!w) throw new UserError(`unknown world "${ctx.params.name}"; known: ${worldNames().join(', ')}`);
    await w.write(ctx.dir, ctx.params.params);
    return { world: w.name, domains: [...w.domains] };
  },
});
