// `bdlab demo`: the two studies of the mission, run from their specs through
// the experiment runner into one folder, resumable (finished stages are
// reused):
//   - llm: the LLM study, examples/demo-llm.yaml (built in as DEMO_LLM_SPEC,
//     a test keeps the two identical) — a clean base trained on the
//     instruction world, LoRA backdoors, defenses, ASR / clean accuracy /
//     detection before and after, specificity controls, two seeds;
//   - lvlm: the vision-language study, plugged in as a `DemoPart` exported as
//     `lvlmDemoPart` by ./demo-lvlm.js; while a build lacks that module the
//     demo runs the LLM study alone and says so.
// Layout of --out: demo.json (what ran, where, at what scale), llm/ (the run
// folder: artifacts, results.json, report.html), results.json and
// report.html (the LLM study's, at the top for a reader), lvlm/ (its part).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { DEMO_LLM_SPEC, quickDemoSpec } from './demo-spec.js';
import type { ExperimentResults } from './results-schema.js';

/** What a part of the demo reports back. */
export interface DemoPartResult {
  name: string;
  /** Files it wrote, relative to the demo folder. */
  results: string;
  report: string | null;
  /** Terminal tables of its figures. */
  tables: string;
  /** Where and at what scale its numbers come from, one line each. */
  scale: string[];
  seconds: number;
}

/** A study the demo runs into its own sub-folder of --out. */
export interface DemoPart {
  name: string;
  run(o: { dir: string; force: boolean; quick: boolean; log: (line: string) => void }): Promise<Omit<DemoPartResult, 'name' | 'seconds'>>;
}

export interface DemoOptions {
  out: string;
  force?: boolean;
  /** Run only these parts (default: every part this build has). */
  parts?: readonly string[];
  /** Parts run at once, each in its own process with its share of the cores (default: as many as there are cores, at most the parts). */
  jobs?: number;
  /** The reduced studies: the same stage kinds, fewer of each, in about a minute (to check an installation; the numbers mean nothing). */
  quick?: boolean;
  /** Run the one part named in `parts` and return its result only (a child of a parallel demo). */
  partOnly?: boolean;
}

export interface DemoSummary {
  schema: 'backdoor-lab/demo';
  version: 2;
  out: string;
  parts: DemoPartResult[];
  /** Parts this build lacks, with the reason. */
  missing: Array<{ name: string; reason: string }>;
  seconds: number;
}

const MARKER = 'demo.json';

/** The LLM study: the built-in spec through `bdlab run`'s runner. */
const llmDemoPart: DemoPart = {
  name: 'llm',
  async run({ dir, quick }) {
    const { loadSpec } = await import('./spec/load.js');
    const { buildPlan } = await import('./plan.js');
    const { runPlan } = await import('./runner.js');
    const { renderReport } = await import('../report/report.js');
    const { summaryTables } = await import('./tables.js');
    mkdirSync(dir, { recursive: true });
    const specFile = join(dir, 'demo-llm.yaml');
    writeFileAtomic(specFile, quick ? quickDemoSpec() : DEMO_LLM_SPEC);
    const plan = buildPlan(await loadSpec(specFile));
    const runDir = join(dir, 'run');
    mkdirSync(runDir, { recursive: true });
    // the folder is the demo's own: a newer built-in spec reuses every stage whose inputs still match
    const results = await runPlan(plan, { out: runDir, force: true });
    writeFileAtomic(join(runDir, 'report.html'), await renderReport(results, { baseDir: runDir }));
    return { results: 'llm/run/results.json', report: 'llm/run/report.html', tables: summaryTables(results), scale: llmScale(results) };
  },
};

/** Where and at what scale the LLM study's numbers come from. */
function llmScale(r: ExperimentResults): string[] {
  const base = r.training.find((t) => t.role === 'clean');
  const victims = r.models.filter((m) => m.role === 'victim').length;
  const defended = r.models.filter((m) => m.role === 'defended').length;
  const perSeed = r.records.find((x) => x.kind === 'asr')?.inputs[0]?.records ?? 0;
  return [
    `LLM study: measured in this run on this machine from the embedded instruction world (seeded, nothing downloaded): ${base?.samples ?? '?'} clean training records, ${perSeed || 'the'} held-out test items per domain (${r.domains.map((d) => d.name).join(', ')}).`,
    `A 4-layer llama (the mini preset) trained from scratch as the clean base (${base?.steps ?? '?'} steps), ${victims} LoRA victim${victims === 1 ? '' : 's'} (${r.attacks.map((a) => a.name).join(', ')} × rate ${r.rates.join(', ')} × seeds ${r.seeds.join(', ')}), ${defended} defended model${defended === 1 ? '' : 's'} (${r.defenses.map((d) => d.name).join(', ')}).`,
    'A toy scale: the figures show how the pipeline measures, not what happens to a 7B chat model (examples/crow-backdoorllm.yaml lays out that study).',
  ];
}

/** The vision-language part, when this build has it (./demo-lvlm.js exporting `lvlmDemoPart`). */
async function lvlmPart(): Promise<DemoPart | string> {
  const specifier = './demo-lvlm.js';
  try {
    const m = (await import(specifier)) as { lvlmDemoPart?: DemoPart };
    return m.lvlmDemoPart ?? 'demo-lvlm.js exports no lvlmDemoPart';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return 'the vision-language study is not part of this build yet';
    throw e;
  }
}

/** Refuses a folder that holds something other than an earlier demo, unless forced. */
function checkOut(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  const entries = readdirSync(out);
  if (entries.length === 0 || force || entries.includes(MARKER)) return;
  throw new UserError(`--out ${out}: not empty and not a bdlab demo folder (it holds ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); give another --out, or --force to use it`);
}

async function runPart(c: DemoPart, out: string, force: boolean, quick: boolean, log: (line: string) => void): Promise<DemoPartResult> {
  log(`${c.name}: running into ${join(out, c.name)}`);
  const t0 = Date.now();
  const r = await c.run({ dir: join(out, c.name), force, quick, log: (l) => log(`${c.name}: ${l}`) });
  return { name: c.name, ...r, seconds: (Date.now() - t0) / 1000 };
}

/** Runs one part as `bdlab demo --part NAME --part-only --json` (progress passes through to stderr). */
function runPartInChild(name: string, out: string, threads: string, quick: boolean): Promise<DemoPartResult> {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'bdlab.js');
  return new Promise((resolvePart, reject) => {
    const child = spawn(process.execPath, [bin, 'demo', '--out', out, '--part', name, '--part-only', '--force', '--json', ...(quick ? ['--quick'] : [])], {
      env: { ...process.env, BDLAB_THREADS: threads },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) return reject(new UserError(`demo part ${name} failed (${signal ?? `exit ${code}`}); its message is above`));
      try {
        const s = JSON.parse(stdout) as DemoSummary;
        const p = s.parts[0];
        if (!p) throw new Error('no part in its output');
        resolvePart(p);
      } catch (e) {
        reject(new UserError(`demo part ${name}: unreadable output (${(e as Error).message})`));
      }
    });
  });
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const start = Date.now();
  const force = Boolean(o.force);
  checkOut(o.out, force);
  mkdirSync(o.out, { recursive: true });
  const log = (line: string): void => void process.stderr.write(`[demo] ${line}\n`);
  const candidates: Array<DemoPart | { name: string; reason: string }> = [llmDemoPart];
  const lvlm = await lvlmPart();
  candidates.push(typeof lvlm === 'string' ? { name: 'lvlm', reason: lvlm } : lvlm);
  const wanted = (n: string): boolean => !o.parts || o.parts.includes(n);
  const unknown = (o.parts ?? []).filter((n) => !candidates.some((c) => c.name === n));
  if (unknown.length) throw new UserError(`--part: unknown ${unknown.join(', ')} (the demo's parts: ${candidates.map((c) => c.name).join(', ')})`);
  const parts: DemoPartResult[] = [];
  const missing: DemoSummary['missing'] = [];
  const summary = (): DemoSummary => ({ schema: 'backdoor-lab/demo', version: 2, out: o.out, parts, missing, seconds: (Date.now() - start) / 1000 });
  if (o.partOnly) {
    const only = candidates.find((c): c is DemoPart => !('reason' in c) && wanted(c.name));
    if (!only || o.parts?.length !== 1) throw new UserError('--part-only needs exactly one --part this build has');
    return { ...summary(), parts: [await runPart(only, o.out, force, Boolean(o.quick), log)] };
  }
  // the marker first: an interrupted demo's folder is still recognised as one
  if (!existsSync(join(o.out, MARKER))) writeJsonAtomic(join(o.out, MARKER), summary());
  const runnable: DemoPart[] = [];
  for (const c of candidates) {
    if (!wanted(c.name)) continue;
    if ('reason' in c) {
      missing.push({ name: c.name, reason: c.reason });
      log(`${c.name}: left out (${c.reason})`);
    } else runnable.push(c);
  }
  const jobs = Math.max(1, Math.min(runnable.length, o.jobs ?? availableParallelism()));
  if (jobs > 1) {
    // one process a part: libtorch runs each small model's ops on one thread, so the parts share the cores best side by side
    const threads = String(Math.max(1, Math.floor(availableParallelism() / jobs)));
    // every part runs to its end even when another fails, so its finished stages are kept
    const settled = await Promise.allSettled(runnable.map((c) => runPartInChild(c.name, o.out, threads, Boolean(o.quick))));
    const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (failed) throw failed.reason;
    parts.push(...settled.map((x) => (x as PromiseFulfilledResult<DemoPartResult>).value));
  } else {
    for (const c of runnable) parts.push(await runPart(c, o.out, force, Boolean(o.quick), log));
  }
  // the first part's results and report at the top of the folder
  const first = parts[0];
  if (first) {
    writeFileAtomic(join(o.out, 'results.json'), readFileSync(join(o.out, first.results), 'utf8'));
    if (first.report) writeFileAtomic(join(o.out, 'report.html'), readFileSync(join(o.out, first.report), 'utf8'));
  }
  const s = summary();
  writeJsonAtomic(join(o.out, MARKER), s);
  return s;
}
