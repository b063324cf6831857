import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type * as z from 'zod';
import { UserError } from '../../util/errors.js';
import { canonicalJson } from '../cache.js';
import { sha256Hex } from '../../util/hash.js';
import { specSchema, type Spec } from './schema.js';
import { PIPELINE_KEYS } from './training.js';
import { checkSpec, type Modality, type SpecIssue } from './check.js';

/**
 * Reads an experiment spec: YAML → `vars` (with `--set` overrides) → schema →
 * registry checks (attack, world, rewrite names and parameters) → paths
 * resolved against the spec's folder. Every failure is one line naming the
 * file, the line and the field path: `spec.yaml:14: attacks[2].params.alpha:
 * expected a number`.
 */
export interface LoadedSpec {
  spec: Spec;
  /** The spec file, as given. */
  file: string;
  /** sha256 of the canonical JSON of the checked spec with its paths resolved. */
  sha256: string;
  /** Text instructions, or images with questions and captions. */
  modality: Modality;
}

export type PathPart = string | number;

function formatPath(path: readonly PathPart[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? '(top level)' : s;
}

const TYPE_NAMES: Record<string, string> = { number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'a mapping', int: 'an integer' };

function received(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return `${typeof input === 'string' ? 'the text' : typeof input} ${JSON.stringify(input)}`;
}

/** One zod issue as a short sentence (zod's own wording is generic). */
function issueMessage(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `missing (expected ${TYPE_NAMES[issue.expected] ?? issue.expected})`;
      // the schema's own wording where it gives one
      if (!issue.message.startsWith('Invalid input')) return `${issue.message}, got ${received(value)}`;
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${received(value)}`;
    case 'unrecognized_keys': {
      const k = issue.keys[0] as string;
      const why = PIPELINE_KEYS[k];
      return why ? `${k}: not set in a spec (${why})` : `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((x) => `"${x}"`).join(', ')}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${received(value)}`;
    case 'too_small':
      if (issue.origin === 'array') return `needs at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return 'must not be empty';
      return issue.message.startsWith('Too small') ? `must be ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}` : issue.message;
    case 'too_big':
      return issue.message.startsWith('Too big') ? `must be ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}` : issue.message;
    case 'invalid_union': {
      // report the branch that got furthest, in its own words
      const branches = issue.errors.filter((b) => b.length > 0);
      const best = branches.sort((a, b) => (b[0]?.path.length ?? 0) - (a[0]?.path.length ?? 0))[0];
      const first = best?.[0];
      if (first && first.path.length > 0) return `${formatPath(first.path as PathPart[])}: ${issueMessage(first, valueAt(value, first.path as PathPart[]))}`;
      const kinds = [...new Set(issue.errors.flatMap((b) => b.filter((x) => x.code === 'invalid_type' && x.path.length === 0).map((x) => TYPE_NAMES[(x as { expected: string }).expected] ?? (x as { expected: string }).expected)))];
      return kinds.length ? `expected ${kinds.join(', ').replace(/, ([^,]*)$/, ' or $1')}, got ${received(value)}` : `unexpected value ${received(value)}`;
    }
    default:
      return issue.message;
  }
}

function valueAt(root: unknown, path: readonly PathPart[]): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

/** `file:line: ` for a field path, falling back to the nearest enclosing node. */
function where(file: string, doc: Document, lc: LineCounter, path: readonly PathPart[]): string {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return `${file}:${lc.linePos(node.range[0]).line}: `;
  }
  return `${file}: `;
}

function fail(file: string, doc: Document, lc: LineCounter, issues: readonly SpecIssue[]): never {
  const first = issues[0] as SpecIssue;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  throw new UserError(`${where(file, doc, lc, first.path)}${formatPath(first.path)}: ${first.message}${more}`);
}

/** `--set key=value` pairs into a map. */
export function parseSets(sets: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UserError(`--set "${s}": expected name=value`);
    out[s.slice(0, eq).trim()] = s.slice(eq + 1);
  }
  return out;
}

export async function loadSpec(file: string, sets: Readonly<Record<string, string>> = {}): Promise<LoadedSpec> {
  if (!existsSync(file)) throw new UserError(`${file}: no such file`);
  if (!statSync(file).isFile()) throw new UserError(`${file}: not a file`);
  const lc = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new UserError(`${file}:${e.linePos?.[0].line ?? '?'}: not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError(`${file}: expected a mapping of spec fields at the top level`);
  const withSets = Object.keys(sets).length ? { ...raw, vars: { ...((raw as { vars?: object }).vars ?? {}), ...sets } } : raw;
  const parsed = specSchema.safeParse(withSets);
  if (!parsed.success) {
    fail(
      file,
      doc,
      lc,
      parsed.error.issues.map((i) => {
        const path = i.path as PathPart[];
        const msg = issueMessage(i, valueAt(withSets, path));
        return { path, message: msg };
      }),
    );
  }
  const spec = parsed.data;
  const issues = resolvePaths(spec, dirname(resolve(file)));
  const checked = await checkSpec(spec);
  issues.push(...checked.issues);
  const modality = checked.modality;
  if (issues.length > 0) fail(file, doc, lc, issues);
  return { spec, file: basename(file), sha256: sha256Hex(canonicalJson(spec)), modality };
}

/** Replaces `{name}` placeholders; unknown names become issues. */
function expand(s: string, vars: Readonly<Record<string, string>>, path: PathPart[], issues: SpecIssue[]): string {
  return s.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => {
    const v = vars[name];
    if (v === undefined) {
      issues.push({ path, message: `unknown placeholder {${name}} (define it under vars, or pass --set ${name}=...)` });
      return m;
    }
    return v;
  });
}

/** Expands placeholders and makes every path of the spec absolute (relative to the spec's folder). */
function resolvePaths(spec: Spec, base: string): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const fix = (p: string, path: PathPart[], extra: Record<string, string> = {}): string => {
    const e = expand(p, { ...spec.vars, ...extra }, path, issues);
    return isAbsolute(e) ? e : resolve(base, e);
  };
  const fixAll = (p: string | string[], path: PathPart[], extra?: Record<string, string>): string | string[] =>
    Array.isArray(p) ? p.map((x, i) => fix(x, [...path, i], extra)) : fix(p, path, extra);
  const d = spec.data;
  if (d.train !== undefined) d.train = fix(d.train, ['data', 'train']);
  for (const k of ['image_root', 'defense', 'validation'] as const) {
    const v = d[k];
    if (v !== undefined) d[k] = fix(v, ['data', k]);
  }
  spec.domains?.forEach((dom, i) => {
    for (const k of ['test', 'utility', 'image_root'] as const) {
      const v = dom[k];
      if (v !== undefined) dom[k] = fix(v, ['domains', i, k]);
    }
  });
  // {attack} and {target} stay for the plan to fill in per attack and target
  spec.attacks.forEach((a, i) => {
    if (a.poisoned_train !== undefined) a.poisoned_train = fixAll(a.poisoned_train, ['attacks', i, 'poisoned_train'], { attack: '{attack}', target: '{target}' });
  });
  if (spec.victim.model.path !== undefined) spec.victim.model.path = fix(spec.victim.model.path, ['victim', 'model', 'path']);
  return issues;
}
