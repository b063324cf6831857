import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { checkOutputFile, samePath } from '../util/safe-fs.js';
import { readJson, typeName } from './io.js';

/**
 * One versioned JSON record for every evaluation this tool runs: what was
 * evaluated (subject, input files with their hashes), how (rule or metric
 * configuration, the prompt template, the judge prompt), the seed, the
 * counts, the figures and their intervals. `bdlab eval aggregate` reads these
 * back, so every field is checked on read. A change that breaks readers bumps
 * RESULT_VERSION.
 */
export const RESULT_SCHEMA = 'backdoor-lab/eval-result';
export const RESULT_VERSION = 1;

const RESULT_KINDS = ['asr', 'asrg', 'matrix', 'captions', 'accuracy', 'judge', 'perplexity', 'aggregate', 'study'] as const;
export type ResultKind = (typeof RESULT_KINDS)[number];

/** What was evaluated; free-form labels given by the user. */
export interface Subject {
  model?: string;
  attack?: string;
  task?: string;
  domain?: string;
  [key: string]: string | undefined;
}

/** An input file and enough to tell later whether it changed. */
export interface InputFile {
  role: string;
  path: string;
  sha256: string;
  records: number;
}

export interface Prompts {
  /** The chat/prompt template the outputs were generated with, if known. */
  template: string | null;
  /** The judge's prompt, for judge evaluations. */
  judge?: { mode: string; system: string; user: string; model: string; base_url: string };
}

export interface EvalResult {
  schema: typeof RESULT_SCHEMA;
  version: typeof RESULT_VERSION;
  kind: ResultKind;
  /** ISO 8601 time the result was made. */
  created: string;
  tool: { name: string; version: string };
  subject: Subject;
  seed: number | null;
  prompts: Prompts;
  /** Metric or rule configuration (JSON). */
  config: Record<string, unknown>;
  inputs: InputFile[];
  /** Integer counts (n, hits, skipped, ...). */
  counts: Record<string, number>;
  /** The figures; percent for rates, coco scale for captions; null if undefined (n = 0). */
  metrics: Record<string, number | null>;
  /** 95 % intervals of metrics, same units. */
  intervals: Record<string, [number, number]>;
  /** Kind-specific structured data (matrices, per-seed values, ...). */
  details?: Record<string, unknown>;
  /** Optional per-sample outcomes. */
  samples?: unknown[];
}

let cachedVersion: string | undefined;
/** This package's version, from its package.json. */
export function toolVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'backdoor-lab' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
      } catch {
        // keep looking upwards
      }
    }
    dir = dirname(dir);
  }
  return (cachedVersion = '0.0.0');
}

export interface ResultParts {
  subject?: Subject;
  seed?: number | null;
  prompts?: Partial<Prompts>;
  config?: Record<string, unknown>;
  inputs?: InputFile[];
  counts?: Record<string, number>;
  metrics: Record<string, number | null>;
  intervals?: Record<string, [number, number]>;
  details?: Record<string, unknown>;
  samples?: unknown[];
}

export function makeResult(kind: ResultKind, parts: ResultParts): EvalResult {
  const subject: Subject = {};
  for (const [k, v] of Object.entries(parts.subject ?? {})) if (v !== undefined) subject[k] = v;
  const r: EvalResult = {
    schema: RESULT_SCHEMA,
    version: RESULT_VERSION,
    kind,
    created: new Date().toISOString(),
    tool: { name: 'backdoor-lab', version: toolVersion() },
    subject,
    seed: parts.seed ?? null,
    prompts: { template: parts.prompts?.template ?? null, ...(parts.prompts?.judge ? { judge: parts.prompts.judge } : {}) },
    config: parts.config ?? {},
    inputs: parts.inputs ?? [],
    counts: parts.counts ?? {},
    metrics: parts.metrics,
    intervals: parts.intervals ?? {},
  };
  if (parts.details) r.details = parts.details;
  if (parts.samples) r.samples = parts.samples;
  return r;
}

/** Metrics in percent, whatever the evaluation: a value outside [0, 100] is a broken record. */
const PERCENT_METRICS = new Set(['asr', 'asr_all', 'ftr', 'accuracy', 'harmful_rate', 'asr_attacker', 'asr_user']);
/** Counts of which the first is a part of the second. */
const COUNT_PAIRS: ReadonlyArray<[string, string]> = [
  ['hits', 'n'],
  ['hits_all', 'n_all'],
  ['ftr_hits', 'ftr_n'],
  ['correct', 'n'],
  ['harmful', 'n'],
];

function fail(where: string, msg: string): never {
  throw new UserError(`${where}: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks a parsed value against the schema; `where` names it in errors. */
export function validateResult(v: unknown, where: string): EvalResult {
  if (!isObject(v)) fail(where, `expected a result object, got ${typeName(v)}`);
  if (v.schema !== RESULT_SCHEMA) fail(where, `field "schema" must be "${RESULT_SCHEMA}", got ${JSON.stringify(v.schema)}`);
  if (v.version !== RESULT_VERSION) fail(where, `unsupported result version ${JSON.stringify(v.version)} (this tool reads ${RESULT_VERSION})`);
  if (typeof v.kind !== 'string' || !(RESULT_KINDS as readonly string[]).includes(v.kind)) {
    fail(where, `field "kind" must be one of ${RESULT_KINDS.join(', ')}, got ${JSON.stringify(v.kind)}`);
  }
  if (typeof v.created !== 'string') fail(where, 'field "created" must be a string');
  if (!isObject(v.tool) || typeof v.tool.name !== 'string' || typeof v.tool.version !== 'string') fail(where, 'field "tool" must be {name, version}');
  if (!isObject(v.subject)) fail(where, 'field "subject" must be an object');
  for (const [k, s] of Object.entries(v.subject)) if (typeof s !== 'string') fail(where, `field "subject.${k}" must be a string`);
  if (v.seed !== null && !(typeof v.seed === 'number' && Number.isFinite(v.seed))) fail(where, 'field "seed" must be a number or null');
  if (!isObject(v.prompts) || !(v.prompts.template === null || typeof v.prompts.template === 'string')) {
    fail(where, 'field "prompts.template" must be a string or null');
  }
  if (!isObject(v.config)) fail(where, 'field "config" must be an object');
  if (!Array.isArray(v.inputs)) fail(where, 'field "inputs" must be an array');
  v.inputs.forEach((f, i) => {
    if (!isObject(f) || typeof f.role !== 'string' || typeof f.path !== 'string' || typeof f.sha256 !== 'string' || typeof f.records !== 'number') {
      fail(where, `field "inputs[${i}]" must be {role, path, sha256, records}`);
    }
  });
  if (!isObject(v.counts)) fail(where, 'field "counts" must be an object');
  for (const [k, c] of Object.entries(v.counts)) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) fail(where, `field "counts.${k}" must be a non-negative integer`);
  }
  if (!isObject(v.metrics)) fail(where, 'field "metrics" must be an object');
  for (const [k, m] of Object.entries(v.metrics)) {
    if (m !== null && !(typeof m === 'number' && Number.isFinite(m))) fail(where, `field "metrics.${k}" must be a number or null`);
    if (PERCENT_METRICS.has(k) && m !== null && ((m as number) < 0 || (m as number) > 100)) fail(where, `field "metrics.${k}" must be a percentage in [0, 100], got ${m as number}`);
  }
  if (!isObject(v.intervals)) fail(where, 'field "intervals" must be an object');
  for (const [k, iv] of Object.entries(v.intervals)) {
    if (!Array.isArray(iv) || iv.length !== 2 || !iv.every((x) => typeof x === 'number' && Number.isFinite(x)) || (iv[0] as number) > (iv[1] as number)) {
      fail(where, `field "intervals.${k}" must be [lo, hi]`);
    }
    if (PERCENT_METRICS.has(k) && ((iv[0] as number) < 0 || (iv[1] as number) > 100)) fail(where, `field "intervals.${k}" must lie in [0, 100]`);
  }
  for (const [hits, n] of COUNT_PAIRS) {
    const h = v.counts[hits];
    const t = v.counts[n];
    if (typeof h === 'number' && typeof t === 'number' && h > t) fail(where, `field "counts.${hits}" (${h}) exceeds "counts.${n}" (${t})`);
  }
  if (v.details !== undefined && !isObject(v.details)) fail(where, 'field "details" must be an object');
  if (v.samples !== undefined && !Array.isArray(v.samples)) fail(where, 'field "samples" must be an array');
  return v as unknown as EvalResult;
}

export function readResult(path: string): EvalResult {
  return validateResult(readJson(path), path);
}

/**
 * Refuses an --out that would replace one of the inputs, or that is no place
 * for a file (a FIFO, a device, a pseudo file system, a read-only folder).
 * Commands call it before their work; writeResult calls it again.
 */
export function checkResultPath(path: string, inputs: ReadonlyArray<{ role: string; path: string }>): void {
  for (const i of inputs) {
    if (samePath(path, i.path)) throw new UserError(`--out ${path} is also an input (${i.role.replace(/_/g, ' ')}); write the result to another file`);
  }
  checkOutputFile(path);
}

export function writeResult(path: string, r: EvalResult): void {
  checkResultPath(path, r.inputs);
  writeJsonAtomic(path, r);
}
