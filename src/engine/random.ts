// Seeds. `manualSeed` fixes the global generator; a per-call seed makes a
// private CPU generator so one call's numbers do not depend on any other.
import { native, type GeneratorHandle } from './native.js';

export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new TypeError(`seed must be a non-negative integer, got ${seed}`);
  native().manualSeed(seed);
}

/** A generator for a per-call seed, or null for the global generator. */
export function generatorFor(seed: number | undefined): GeneratorHandle | null {
  if (seed === undefined) return null;
  if (!Number.isInteger(seed) || seed < 0) throw new TypeError(`seed must be a non-negative integer, got ${seed}`);
  return native().makeGenerator(seed);
}
