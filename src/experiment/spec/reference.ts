import type * as z from 'zod';
import { specSchema } from './schema.js';

/**
 * The field reference of docs/experiments.md, made from the schema itself
 * (types, defaults, and each field's `.describe()` text), so the two cannot
 * drift: a test compares the document with this.
 */
interface Def {
  type: string;
  [k: string]: unknown;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const descOf = (s: z.ZodType): string | undefined => (s as unknown as { description?: string }).description;

interface Row {
  path: string;
  type: string;
  dflt: string;
  doc: string;
}

/** Unwraps optional/default/pipe layers, keeping the default and the first description met. */
function unwrap(s: z.ZodType): { inner: z.ZodType; dflt?: unknown; optional: boolean; doc?: string } {
  let cur = s;
  let dflt: unknown;
  let optional = false;
  let doc = descOf(s);
  for (;;) {
    const d = defOf(cur);
    if (d.type === 'optional') optional = true;
    else if (d.type === 'default' || d.type === 'prefault') {
      const v = d.defaultValue;
      dflt = typeof v === 'function' ? (v as () => unknown)() : v;
    } else if (d.type !== 'pipe') break;
    cur = (d.type === 'pipe' ? d.out : d.innerType) as z.ZodType;
    doc ??= descOf(cur);
  }
  return { inner: cur, dflt, optional, doc };
}

function typeName(s: z.ZodType): string {
  const d = defOf(unwrap(s).inner);
  switch (d.type) {
    case 'string':
      return 'text';
    case 'number': {
      const checks = (d.checks as Array<{ _zod: { def: { check: string; format?: string } } }> | undefined) ?? [];
      return checks.some((c) => c._zod.def.format === 'safeint') ? 'integer' : 'number';
    }
    case 'boolean':
      return 'true/false';
    case 'literal':
      return (d.values as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
    case 'enum':
      return Object.values(d.entries as Record<string, string>).map((v) => `\`${v}\``).join(' \\| ');
    case 'array':
      return `list of ${typeName(d.element as z.ZodType)}`;
    case 'tuple':
      return 'list';
    case 'record':
      return 'mapping';
    case 'object':
      return 'mapping';
    case 'union':
      return [...new Set((d.options as z.ZodType[]).map(typeName))].join(' or ');
    default:
      return d.type;
  }
}

function walk(s: z.ZodType, path: string, rows: Row[]): void {
  const { inner } = unwrap(s);
  const d = defOf(inner);
  if (d.type === 'object') {
    for (const [k, v] of Object.entries(d.shape as Record<string, z.ZodType>)) {
      const u = unwrap(v);
      const p = path ? `${path}.${k}` : k;
      const dflt = u.dflt === undefined ? (u.optional ? '—' : 'required') : `\`${JSON.stringify(u.dflt)}\``;
      rows.push({ path: p, type: typeName(v), dflt, doc: u.doc ?? '' });
      walk(v, p, rows);
    }
  } else if (d.type === 'array') {
    walk(d.element as z.ZodType, `${path}[]`, rows);
  } else if (d.type === 'union') {
    for (const o of d.options as z.ZodType[]) if (defOf(unwrap(o).inner).type === 'object') walk(o, path, rows);
  }
}

export function specReference(): string {
  const rows: Row[] = [];
  walk(specSchema as unknown as z.ZodType, '', rows);
  const esc = (t: string): string => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return ['| field | type | default | meaning |', '| --- | --- | --- | --- |', ...rows.map((r) => `| \`${r.path}\` | ${r.type} | ${esc(r.dflt)} | ${esc(r.doc)} |`)].join('\n');
}
