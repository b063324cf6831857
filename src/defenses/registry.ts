import { UserError } from '../util/errors.js';
import { resolveParams } from '../attacks/params.js';
import type { DefenseDef, Params } from './types.js';

/**
 * The defense registry, shaped like the attacks': each defense is one file
 * that calls `registerDefense` with its lower-case name, typed parameters and
 * a runner. Import `src/defenses/index.js` to load the whole catalogue.
 */
const registry = new Map<string, DefenseDef>();

export function registerDefense(def: DefenseDef): void {
  if (def.name !== def.name.toLowerCase()) throw new Error(`defense names are lower case: ${def.name}`);
  if (registry.has(def.name)) throw new Error(`defense ${def.name} registered twice`);
  registry.set(def.name, def);
}

export function listDefenses(): DefenseDef[] {
  return [...registry.values()];
}

export function defenseDef(name: string): DefenseDef {
  const d = registry.get(name);
  if (!d) throw new UserError(`unknown defense "${name}"; known: ${listDefenses().map((x) => x.name).join(' ')}`);
  return d;
}

/** A weight defense's parameters from `key=value` strings, defaults filled in and checked. */
export function defenseParams(def: DefenseDef, raw: Readonly<Record<string, string>>): Params {
  return resolveParams(def.params, raw, `defense ${def.name}`);
}
