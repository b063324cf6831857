import * as z from 'zod';
import { parseColor } from '../../attacks/params.js';
import type { ParamSpec } from '../../attacks/types.js';

/**
 * Typed parameters (the attack catalogue's ParamSpec) as a zod schema for the
 * values YAML gives, so a spec's `params.alpha: "x"` fails at its path; and the
 * values back as the `key=value` strings the registries' factories take.
 */
function one(spec: ParamSpec): z.ZodType {
  switch (spec.type) {
    case 'number':
    case 'int': {
      let n = spec.type === 'int' ? z.number().int('expected an integer') : z.number();
      if (spec.min !== undefined) n = n.min(spec.min, `must be ≥ ${spec.min}`);
      if (spec.max !== undefined) n = n.max(spec.max, `must be ≤ ${spec.max}`);
      return n;
    }
    case 'bool':
      return z.boolean();
    case 'enum':
      return z.enum((spec.choices ?? []) as [string, ...string[]]);
    case 'color':
      return z.union([
        z.string().refine((s) => parseColor(s) !== null, 'expected a colour: #rrggbb, r,g,b or a name (black, white, yellow, ...)'),
        z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]),
      ]);
    case 'list':
      return z.union([z.string().min(1), z.array(z.union([z.string().min(1), z.number()])).min(1)]);
    case 'string':
      // YAML reads `trigger: 2024` as a number
      return z.union([z.string(), z.number()]);
  }
}

export function paramsSchema(specs: readonly ParamSpec[]): z.ZodType<Record<string, unknown>> {
  return z.strictObject(Object.fromEntries(specs.map((s) => [s.name, one(s).optional()])));
}

/** A YAML parameter value as the `--param key=value` string. */
function paramString(v: unknown): string {
  if (Array.isArray(v)) return v.map(String).join(v.length === 3 && v.every((x) => typeof x === 'number') ? ',' : '|');
  return String(v);
}

export function paramStrings(params: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(params).sort()) out[k] = paramString(params[k]);
  return out;
}
