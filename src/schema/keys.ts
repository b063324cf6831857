// The one key casing of machine-readable output: snake_case. A few keys are
// fixed by outside contracts (coco-caption's metric names such as "BLEU-1" and
// "CIDEr"), and some objects are maps whose keys are data (file names, label
// values, user-given labels); schemas mark those with `dataKeys()` so the
// casing check skips their keys but still checks their values.
import { z } from 'zod';

const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** Metric names fixed by coco-caption (design.md's `eval captions` contract). */
const CONTRACT_KEYS = new Set(['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr', 'ROUGE-L']);

const DATA_KEYS = new WeakSet<object>();

/** A record whose keys are data (not field names), e.g. per-label counts. */
export function dataKeys<V extends z.ZodType>(value: V): z.ZodRecord<z.ZodString, V> {
  const r = z.record(z.string(), value);
  DATA_KEYS.add(r);
  return r;
}

/** Paths of keys in `v` that are not snake_case, skipping the contents' keys of data-keyed records. */
export function nonSnakeKeys(v: unknown, schema?: z.ZodType, path = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => nonSnakeKeys(x, elementSchema(schema), `${path}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  const skipKeys = schema !== undefined && DATA_KEYS.has(schema);
  const out: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const p = path ? `${path}.${k}` : k;
    if (!skipKeys && !SNAKE_CASE.test(k) && !CONTRACT_KEYS.has(k)) out.push(p);
    out.push(...nonSnakeKeys(x, fieldSchema(schema, k), p));
  }
  return out;
}

function unwrap(s: z.ZodType | undefined): z.ZodType | undefined {
  let cur = s;
  for (let i = 0; i < 8 && cur; i++) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodType;
    else break;
  }
  return cur;
}

function elementSchema(s: z.ZodType | undefined): z.ZodType | undefined {
  const u = unwrap(s);
  return u instanceof z.ZodArray ? (u.element as z.ZodType) : undefined;
}

function fieldSchema(s: z.ZodType | undefined, key: string): z.ZodType | undefined {
  const u = unwrap(s);
  if (u instanceof z.ZodObject) return (u.shape as Record<string, z.ZodType>)[key];
  if (u instanceof z.ZodRecord) return u.valueType as z.ZodType;
  return undefined;
}
