import { UserError } from '../util/errors.js';
import { samePath } from '../util/safe-fs.js';
import { summarize, type Summary } from './stats/summary.js';
import { wilsonPercent } from './stats/wilson.js';
import type { EvalResult } from './results.js';

/**
 * Aggregation of repeated evaluations (seeds): for each metric present in
 * every run, the mean, sample standard deviation and a 95 % Student-t interval
 * of the mean. For rates that carry their counts (ASR, accuracy) the pooled
 * rate over all runs with its Wilson interval is given as well.
 */
export interface MetricAggregate extends Summary {
  values: number[];
}

export interface Aggregate {
  kind: string;
  runs: number;
  seeds: (number | null)[];
  metrics: Record<string, MetricAggregate>;
  /** Pooled rates: name → {rate, n, hits, ci95}. */
  pooled: Record<string, { rate: number | null; n: number; hits: number; ci95: [number, number] }>;
}

/** Which counts make up a pooled rate: metric → [hits key, n key]. */
const POOLABLE: Readonly<Record<string, readonly [string, string]>> = {
  asr: ['hits', 'n'],
  asr_all: ['hits_all', 'n_all'],
  ftr: ['ftr_hits', 'ftr_n'],
  accuracy: ['correct', 'n'],
  harmful_rate: ['harmful', 'n'],
};

/** How a run was measured: runs that differ here measure different things and are not pooled. */
export interface Protocol {
  task: string | null;
  /** ASR: whether clean outputs conditioned it (samples whose clean answer already shows the target left out). */
  clean_conditioned: boolean | null;
  template: string | null;
}

function protocolOf(r: EvalResult): Protocol {
  const target = r.config.target;
  return {
    // a target-phrase rule is only the same task with the same phrase
    task: r.subject.task === undefined ? null : typeof target === 'string' ? `${r.subject.task}:${target}` : r.subject.task,
    clean_conditioned: r.kind === 'asr' ? r.inputs.some((i) => i.role === 'clean_outputs') || 'asr_all' in r.metrics : null,
    template: r.prompts.template,
  };
}

/** JSON with object keys sorted, for comparing records. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const describeClean = (c: boolean | null): string => (c ? 'with clean outputs (clean-conditioned ASR)' : 'without clean outputs (ASR over all triggered samples)');

/**
 * Refuses runs that should not be pooled: the same file given twice (by path,
 * or the same bytes under another name), and, unless `allowMixed`, runs whose
 * protocol (task, clean conditioning, template) differs from the first's.
 * `sha256` holds each file's digest.
 */
export function checkPoolable(results: readonly EvalResult[], names: readonly string[], sha256: readonly string[], allowMixed: boolean): void {
  for (let i = 0; i < names.length; i++) {
    for (let j = 0; j < i; j++) {
      if (samePath(names[i] as string, names[j] as string)) throw new UserError(`${names[i]}: given twice (also as ${names[j]})`);
      if (sha256[i] === sha256[j]) throw new UserError(`${names[i]}: the same record as ${names[j]} (identical bytes); each run counts once`);
    }
  }
  if (allowMixed || results.length === 0) return;
  const first = protocolOf(results[0] as EvalResult);
  results.forEach((r, i) => {
    const p = protocolOf(r);
    const hint = '; give --allow-mixed to pool them anyway';
    if (p.task !== first.task) throw new UserError(`${names[i]}: task ${JSON.stringify(p.task)} differs from ${JSON.stringify(first.task)} in ${names[0]}${hint}`);
    if (p.clean_conditioned !== first.clean_conditioned) {
      throw new UserError(`${names[i]}: ASR computed ${describeClean(p.clean_conditioned)}, but ${names[0]} ${describeClean(first.clean_conditioned)}${hint}`);
    }
    if (p.template !== first.template) throw new UserError(`${names[i]}: template ${JSON.stringify(p.template)} differs from ${first.template === null ? 'none' : JSON.stringify(first.template)} in ${names[0]}${hint}`);
    // an ASR record's config is its rule (keywords, matching): the same task name with other settings counts differently
    if (r.kind === 'asr' && canonical(r.config) !== canonical((results[0] as EvalResult).config)) {
      throw new UserError(`${names[i]}: the ASR rule's settings (config) differ from those in ${names[0]}${hint}`);
    }
  });
}

export function aggregateResults(results: readonly EvalResult[], names: readonly string[]): Aggregate {
  if (results.length === 0) throw new UserError('aggregate: no result files');
  const kind = results[0]!.kind;
  results.forEach((r, i) => {
    if (r.kind !== kind) throw new UserError(`${names[i]}: kind "${r.kind}" differs from "${kind}" in ${names[0]}`);
  });
  const metricNames = Object.keys(results[0]!.metrics).filter((m) => results.every((r) => typeof r.metrics[m] === 'number'));
  if (metricNames.length === 0) {
    const missing = results.map((r, i) => `${names[i]}: ${Object.entries(r.metrics).filter(([, v]) => v === null).map(([k]) => k).join(', ') || '(none null)'}`);
    throw new UserError(`aggregate: no metric has a value in every result (null metrics: ${missing.join('; ')})`);
  }
  const metrics: Record<string, MetricAggregate> = {};
  for (const m of metricNames) {
    const values = results.map((r) => r.metrics[m] as number);
    metrics[m] = { ...summarize(values), values };
  }
  const pooled: Aggregate['pooled'] = {};
  for (const [m, [hk, nk]] of Object.entries(POOLABLE)) {
    if (!(m in results[0]!.metrics)) continue;
    if (!results.every((r) => typeof r.counts[hk] === 'number' && typeof r.counts[nk] === 'number')) continue;
    const hits = results.reduce((a, r) => a + r.counts[hk]!, 0);
    const n = results.reduce((a, r) => a + r.counts[nk]!, 0);
    pooled[m] = { rate: n === 0 ? null : (hits * 100) / n, n, hits, ci95: wilsonPercent(hits, n) };
  }
  return { kind, runs: results.length, seeds: results.map((r) => r.seed), metrics, pooled };
}
