import { UserError } from '../util/errors.js';
import { checkSeed } from '../util/rng.js';
import { resolveParams } from './params.js';
import type { Attack, AttackDef, Family, ParamSpec, ParamValue } from './types.js';

/**
 * The attack registry: each attack is one file that calls `registerAttack`
 * with its lower-case name, family, typed parameters and a factory. Import
 * `src/attacks/index.js` to load the whole catalogue.
 */
const registry = new Map<string, AttackDef>();

/** A parameter value as `--param` writes it. */
function formatParamValue(v: ParamValue): string {
  return Array.isArray(v) ? v.join('|') : String(v);
}

/** The help text with the reference value and its source, e.g. "control grid size (reference: 4, BackdoorBench wanet default)". */
function cited(p: ParamSpec): ParamSpec {
  if (!p.ref) return p;
  const value = formatParamValue(p.ref.value);
  return { ...p, doc: `${p.doc} (reference: ${value === '' ? '""' : value}, ${p.ref.source})` };
}

export function registerAttack(def: AttackDef): void {
  if (def.name !== def.name.toLowerCase()) throw new Error(`attack names are lower case: ${def.name}`);
  if (registry.has(def.name)) throw new Error(`attack ${def.name} registered twice`);
  registry.set(def.name, { ...def, params: def.params.map(cited) });
}

export function listAttacks(family?: Family): AttackDef[] {
  return [...registry.values()].filter((d) => family === undefined || d.family === family);
}

export function attackDef(name: string): AttackDef {
  const d = registry.get(name);
  if (!d) {
    const names = (f: Family): string => listAttacks(f).map((x) => x.name).join(' ');
    throw new UserError(`unknown attack "${name}"; text: ${names('text')}; image: ${names('image')}; multimodal: ${names('multimodal')}`);
  }
  return d;
}

/** Creates an attack from its name, `key=value` parameters and the seed. */
export function createAttack(name: string, raw: Readonly<Record<string, string>>, seed: number): Attack {
  const def = attackDef(name);
  checkSeed(seed);
  return def.create(resolveParams(def.params, raw, `attack ${name}`), seed);
}
