import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import { ArtifactStore, artifactKey, folderHash, RunLock, type Marker } from './cache.js';
import type { InputRef, Plan, PlanNode } from './plan.js';
import { assembleResults, type Finished } from './results.js';
import type { ExperimentResults } from './results-schema.js';
import { ModelPool, stageKind, type Input } from './stages/index.js';

/**
 * Runs a plan over the artifact cache: each stage in order is either found
 * (its key's folder has a marker) or run; stages this build lacks, and what
 * depends on them, are reported. Every stage start and end is one line on
 * stderr and in DIR/stages.log, so a reader (or a test) sees what ran.
 */
export type StageState = 'cached' | 'run' | 'waiting' | 'unavailable' | 'blocked' | 'missing';

export interface StageStatus {
  id: string;
  kind: string;
  description: string;
  state: StageState;
  key: string | null;
  reason: string | null;
}

export interface RunOptions {
  out: string;
  force?: boolean;
  skipUnavailable?: boolean;
}

interface Resolver {
  externals: Map<string, { sha256: string } | { missing: string }>;
}

/** The files and folders the spec names, hashed (or, with `hash` false, only looked for). */
function externalsOf(plan: Plan, store: ArtifactStore, hash = true): Resolver['externals'] {
  const out: Resolver['externals'] = new Map();
  for (const n of plan.nodes) {
    for (const ref of Object.values(n.inputs)) {
      if (ref.external === undefined || out.has(ref.external)) continue;
      if (!existsSync(ref.external)) out.set(ref.external, { missing: `${ref.field}: ${ref.external}: no such file or folder` });
      else out.set(ref.external, { sha256: hash ? store.memo.path(ref.external) : '' });
    }
  }
  store.memo.save();
  return out;
}

function resolveInput(ref: InputRef, markers: ReadonlyMap<string, Finished>, store: ArtifactStore, externals: Resolver['externals']): Input | null {
  if (ref.external !== undefined) {
    const e = externals.get(ref.external);
    return e && 'sha256' in e ? { path: ref.external, sha256: e.sha256, output: null } : null;
  }
  const f = markers.get(ref.node as string);
  if (!f) return null;
  const dir = store.dirOf(f.marker.kind, f.marker.key);
  if (ref.file === undefined) return { path: dir, sha256: f.marker.sha256, output: f.marker.output };
  const own = f.marker.files[ref.file];
  if (own) return { path: join(dir, ref.file), sha256: own, output: null };
  // a sub-folder of the artifact (e.g. its images)
  const prefix = `${ref.file}/`;
  const under = Object.fromEntries(Object.entries(f.marker.files).filter(([k]) => k.startsWith(prefix)));
  return { path: join(dir, ref.file), sha256: folderHash(under, null), output: null };
}

function describe(n: PlanNode): string {
  const k = stageKind(n.kind);
  return k ? k.describe(n.params as never) : (n.about ?? `${n.kind} ${JSON.stringify(n.params)}`);
}

function availability(n: PlanNode): string | null {
  const k = stageKind(n.kind);
  if (!k) return `stage kind "${n.kind}" is not available in this build`;
  const why = k.unavailable?.(n.params as never) ?? null;
  return why ? `not available in this build: ${why}` : null;
}

/** What a run would do now: every stage with its state (cached, to run, unavailable, ...). */
export function statusOf(plan: Plan, out: string): StageStatus[] {
  const store = new ArtifactStore(join(out, 'artifacts'), true);
  // a folder without artifacts caches nothing: no need to read (possibly large) inputs for their keys
  const fresh = !existsSync(store.root);
  const externals = externalsOf(plan, store, !fresh);
  const known = new Map<string, Finished>();
  const states = new Map<string, StageState>();
  return plan.nodes.map((n) => {
    const base = { id: n.id, kind: n.kind, description: describe(n) };
    const refs = Object.values(n.inputs);
    const missing = refs.map((r) => (r.external !== undefined ? externals.get(r.external) : undefined)).find((e) => e && 'missing' in e) as { missing: string } | undefined;
    let state: StageState;
    let reason: string | null = null;
    let key: string | null = null;
    const upstream = refs.filter((r) => r.node !== undefined).map((r) => states.get(r.node as string));
    const unavailable = availability(n);
    if (unavailable) [state, reason] = ['unavailable', unavailable];
    else if (missing) [state, reason] = ['missing', missing.missing];
    else if (upstream.some((s) => s === 'unavailable' || s === 'blocked' || s === 'missing')) [state, reason] = ['blocked', 'an input cannot be made in this build'];
    else if (fresh) state = refs.every((r) => r.external !== undefined) ? 'run' : 'waiting';
    else {
      const inputs = inputsOf(n, known, store, externals);
      if (!inputs) state = 'waiting';
      else {
        key = keyOf(n, inputs);
        const m = store.lookup(n.kind, key);
        if (m) {
          known.set(n.id, { marker: m, artifact: `artifacts/${n.kind}/${key}` });
          state = 'cached';
        } else state = 'run';
      }
    }
    states.set(n.id, state);
    return { ...base, state, key, reason };
  });
}

function inputsOf(n: PlanNode, known: ReadonlyMap<string, Finished>, store: ArtifactStore, externals: Resolver['externals']): Record<string, Input> | null {
  const inputs: Record<string, Input> = {};
  for (const [name, ref] of Object.entries(n.inputs)) {
    const i = resolveInput(ref, known, store, externals);
    if (!i) return null;
    inputs[name] = i;
  }
  return inputs;
}

function keyOf(n: PlanNode, inputs: Record<string, Input>): string {
  const k = stageKind(n.kind)!;
  return artifactKey({ kind: n.kind, version: k.version, params: n.params, inputs: Object.fromEntries(Object.entries(inputs).map(([name, i]) => [name, i.sha256])) });
}

interface Ownership {
  spec: string;
  sha256: string;
}

/** Runs every stage that is not cached, then writes DIR/results.json; returns the results. */
export async function runPlan(plan: Plan, o: RunOptions): Promise<ExperimentResults> {
  const statuses = statusOf(plan, o.out);
  const missing = statuses.find((s) => s.state === 'missing');
  if (missing) throw new UserError(missing.reason as string);
  const unavailable = statuses.filter((s) => s.state === 'unavailable');
  if (unavailable.length > 0 && !o.skipUnavailable) {
    const kinds = [...new Set(unavailable.map((s) => s.kind))].join(', ');
    throw new UserError(`${unavailable.length} stage(s) are not available in this build (${kinds}; first: ${unavailable[0]!.id}: ${unavailable[0]!.reason}); run with --skip-unavailable to run the rest, or --dry-run to list them`);
  }
  const skip = new Set(statuses.filter((s) => s.state === 'unavailable' || s.state === 'blocked').map((s) => s.id));

  const lock = RunLock.acquire(o.out);
  const pool = new ModelPool();
  try {
    const ownerFile = join(o.out, 'experiment.json');
    const others = readdirSync(o.out).filter((f) => f !== '.lock');
    if (!existsSync(ownerFile) && others.length > 0 && !o.force) {
      throw new UserError(`${o.out}: not empty and not a bdlab run folder (it holds ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}); give another --out, or --force to use it`);
    }
    if (existsSync(ownerFile)) {
      const owner = JSON.parse(readFileSync(ownerFile, 'utf8')) as Ownership;
      if (owner.sha256 !== plan.specSha256 && !o.force) {
        throw new UserError(`${o.out}: holds the results of another spec (${owner.spec}, or an earlier version of this one); give --force to reuse the folder (finished stages are still reused where their inputs match)`);
      }
    }
    writeJsonAtomic(ownerFile, { spec: plan.spec.name, file: plan.specFile, sha256: plan.specSha256 } satisfies Ownership & { file: string });
    const store = new ArtifactStore(join(o.out, 'artifacts'));
    const cleaned = store.cleanTemporary();
    // the file first: whoever acts on the stderr line finds it logged
    const log = (line: string): void => {
      appendFileSync(join(o.out, 'stages.log'), `${new Date().toISOString()} ${line}\n`);
      process.stderr.write(`[run] ${line}\n`);
    };
    if (cleaned > 0) log(`removed ${cleaned} unfinished stage folder(s) of an interrupted run`);
    const externals = externalsOf(plan, store);
    const started = new Date();
    const done = new Map<string, Finished>();
    const timing: NonNullable<ExperimentResults['timing']>['stages'] = [];
    const todo = plan.nodes.filter((n) => !skip.has(n.id));
    const progress = new Progress({ label: 'run', total: todo.length, unit: 'stage' });
    let index = 0;
    for (const n of todo) {
      index++;
      const inputs = inputsOf(n, done, store, externals);
      if (!inputs) throw new Error(`stage ${n.id}: an input is not ready (plan order)`);
      const kind = stageKind(n.kind)!;
      const key = keyOf(n, inputs);
      const artifact = `artifacts/${n.kind}/${key}`;
      let marker: Marker | null = store.lookup(n.kind, key);
      if (marker) {
        timing.push({ id: n.id, status: 'cached', seconds: 0 });
      } else {
        try {
          marker = await store.produce(
            { kind: n.kind, version: kind.version, params: n.params, inputs: Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.sha256])), key },
            (dir) => kind.run({ params: n.params as never, inputs, dir, log: (l) => log(`  ${n.id}: ${l}`), models: pool }),
            () => log(`start ${index}/${todo.length} ${n.id} ${artifact}: ${kind.describe(n.params as never)}`),
          );
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          throw e instanceof UserError ? new UserError(`stage ${n.id}: ${msg}`) : new Error(`stage ${n.id}: ${msg}`, { cause: e });
        }
        log(`done ${index}/${todo.length} ${n.id} ${artifact} ${marker.seconds.toFixed(1)}s`);
        timing.push({ id: n.id, status: 'ran', seconds: marker.seconds });
      }
      done.set(n.id, { marker, artifact });
      progress.tick();
    }
    progress.finish();
    const finished = new Date();
    const results: ExperimentResults = {
      ...assembleResults(
        plan,
        done,
        statuses.filter((s) => skip.has(s.id)).map((s) => ({ id: s.id, kind: s.kind, reason: s.reason ?? '' })),
      ),
      timing: { started: started.toISOString(), finished: finished.toISOString(), seconds: (finished.getTime() - started.getTime()) / 1000, stages: timing },
    };
    writeJsonAtomic(join(o.out, 'results.json'), results);
    return results;
  } finally {
    pool.release();
    lock.release();
  }
}
