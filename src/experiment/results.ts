import { asrg } from '../eval/asrg.js';
import { RESULT_SCHEMA, RESULT_VERSION, toolVersion } from '../eval/results.js';
import { summarize } from '../eval/stats/summary.js';
import { wilsonPercent } from '../eval/stats/wilson.js';
import type { Marker } from './cache.js';
import { paramStrings } from './spec/params.js';
import type { Plan, PlannedModel, PlannedRecord } from './plan.js';
import { RESULTS_SCHEMA, RESULTS_VERSION, type AccuracyRow, type AsrgRow, type AsrRow, type EvalRecord, type ExperimentResults } from './results-schema.js';

/**
 * Builds results.json from the plan and the finished stages' markers. Only
 * stage outputs go in (never times or the run folder's absolute path), in
 * plan order, so the same spec gives the same bytes; `timing` is added apart.
 */
export interface Finished {
  marker: Marker;
  /** The artifact folder relative to the run folder. */
  artifact: string;
}

type Cell = Pick<AsrRow, 'role' | 'attack' | 'target' | 'rate' | 'defense'>;

/** A model's configuration; a clean model measured against an attack's triggers takes that attack and target. */
function cellOf(m: PlannedModel, r: { attack: string | null; target: string | null } | null): Cell {
  return { role: m.role, attack: m.attack ?? r?.attack ?? null, target: m.target ?? r?.target ?? null, rate: m.rate, defense: m.defense };
}

const cellKey = (c: Cell, domain: string): string => JSON.stringify([c.role, c.attack, c.target, c.rate, c.defense, domain]);

function pct(hits: number, n: number): number | null {
  return n === 0 ? null : (hits * 100) / n;
}

/** Mean over seeds with its Student-t interval (null below two seeds), clipped to the measure's range. */
function seedStats(values: readonly (number | null)[], range: [number, number]): { mean: number | null; ci95: [number, number] | null } {
  const v = values.filter((x): x is number => x !== null);
  if (v.length === 0) return { mean: null, ci95: null };
  const s = summarize(v);
  const clip = (x: number): number => Math.min(range[1], Math.max(range[0], x));
  return { mean: s.mean, ci95: v.length >= 2 ? [clip(s.ci95[0]), clip(s.ci95[1])] : null };
}

interface AsrOut {
  config: Record<string, unknown>;
  counts: Record<string, number>;
  metrics: Record<string, number | null>;
  intervals: Record<string, [number, number]>;
}

export function assembleResults(plan: Plan, done: ReadonlyMap<string, Finished>, unavailable: ExperimentResults['unavailable']): Omit<ExperimentResults, 'timing'> {
  const spec = plan.spec;
  const modelById = new Map(plan.models.map((m) => [m.id, m]));
  const tool = { name: 'backdoor-lab', version: toolVersion() };
  const records: EvalRecord[] = [];

  const inputOf = (role: string, nodeId: string): EvalRecord['inputs'][number] | null => {
    const f = done.get(nodeId);
    if (!f) return null;
    const o = f.marker.output as { outputs?: string; records?: number };
    const file = o.outputs ?? 'data.json';
    return { role, path: `${f.artifact}/${file}`, sha256: f.marker.files[file] ?? f.marker.sha256, records: o.records ?? 0 };
  };
  const templateOf = (nodeId: string): string | null => {
    const o = done.get(nodeId)?.marker.output as { template?: string } | undefined;
    return o?.template ?? null;
  };
  const subjectOf = (m: PlannedModel, r: PlannedRecord): Record<string, string> => {
    const s: Record<string, string> = { model: m.id, role: m.role, domain: r.domain };
    if (r.attack !== null) {
      s.attack = r.attack;
      s.attack_name = plan.attacks.find((a) => a.label === r.attack)?.name ?? r.attack;
    }
    if (r.target !== null) s.target = r.target;
    if (m.rate !== null) s.rate = String(m.rate);
    if (m.defense !== null) s.defense = m.defense;
    return s;
  };

  // ---- per-seed evaluation records
  const asrByCell = new Map<string, Array<{ seed: number; out: AsrOut }>>();
  const accByCell = new Map<string, Array<{ seed: number; out: AsrOut }>>();
  const cells = new Map<string, Cell & { domain: string }>();
  for (const [list, kind] of [
    [plan.asr, 'asr'],
    [plan.accuracy, 'accuracy'],
  ] as const) {
    for (const r of list) {
      const f = done.get(r.node);
      const m = modelById.get(r.model);
      if (!f || !m) continue;
      const out = f.marker.output as unknown as AsrOut;
      const node = plan.nodes.find((n) => n.id === r.node);
      const inputs = Object.entries(node?.inputs ?? {})
        .map(([role, ref]) => (ref.node ? inputOf(role === 'triggered' ? 'outputs' : role === 'clean' ? 'clean_outputs' : role, ref.node) : null))
        .filter((x): x is EvalRecord['inputs'][number] => x !== null);
      const genNode = node?.inputs.triggered?.node ?? node?.inputs.outputs?.node;
      records.push({
        schema: RESULT_SCHEMA,
        version: RESULT_VERSION,
        kind,
        tool,
        subject: subjectOf(m, r),
        seed: m.seed,
        prompts: { template: genNode ? templateOf(genNode) : null },
        config: out.config,
        inputs,
        counts: out.counts,
        metrics: out.metrics,
        intervals: out.intervals,
      });
      const cell = cellOf(m, r);
      const key = cellKey(cell, r.domain);
      cells.set(key, { ...cell, domain: r.domain });
      const into = kind === 'asr' ? asrByCell : accByCell;
      (into.get(key) ?? into.set(key, []).get(key)!).push({ seed: m.seed, out });
    }
  }

  // ---- ASR-G (plain ASR, attacker's domain vs each other domain), per seed
  const attackerDomain = plan.domains[0]?.name ?? '';
  const plainAsr = new Map<string, number | null>();
  for (const r of plan.asr) {
    const f = done.get(r.node);
    if (f) plainAsr.set(JSON.stringify([r.model, r.attack, r.target, r.domain]), (f.marker.output as unknown as AsrOut).metrics.asr_all ?? null);
  }
  for (const r of plan.asr) {
    if (r.domain === attackerDomain) continue;
    const m = modelById.get(r.model);
    const a = plainAsr.get(JSON.stringify([r.model, r.attack, r.target, attackerDomain]));
    const u = plainAsr.get(JSON.stringify([r.model, r.attack, r.target, r.domain]));
    if (!m || a === undefined || u === undefined) continue;
    const g = a === null || u === null ? null : asrg(a, u);
    records.push({
      schema: RESULT_SCHEMA,
      version: RESULT_VERSION,
      kind: 'asrg',
      tool,
      subject: { ...subjectOf(m, r), attacker_domain: attackerDomain },
      seed: m.seed,
      prompts: { template: null },
      config: { asr: 'asr_all', formula: 'min(1, 1 + (ASR_user − ASR_attacker) / max(ASR_attacker, ASR_user)); 0 when both are 0' },
      inputs: [],
      counts: {},
      metrics: { asrg: g },
      intervals: {},
      details: { asr_attacker: a, asr_user: u },
    });
  }

  // ---- summary over seeds
  const asrRows: AsrRow[] = [];
  const accRows: AccuracyRow[] = [];
  for (const [key, runs] of asrByCell) {
    const c = cells.get(key)!;
    const sum = (k: string): number => runs.reduce((t, r) => t + (r.out.counts[k] ?? 0), 0);
    const [n, hits, nAll, hitsAll, fn, fh] = [sum('n'), sum('hits'), sum('n_all'), sum('hits_all'), sum('ftr_n'), sum('ftr_hits')];
    const perSeed = runs.map((r) => r.out.metrics.asr ?? null);
    const st = seedStats(perSeed, [0, 100]);
    asrRows.push({
      ...c,
      seeds: runs.length,
      asr: pct(hits, n),
      asr_ci95: wilsonPercent(hits, n),
      n,
      hits,
      asr_all: pct(hitsAll, nAll),
      asr_all_ci95: wilsonPercent(hitsAll, nAll),
      ftr: pct(fh, fn),
      ftr_ci95: wilsonPercent(fh, fn),
      asr_per_seed: perSeed,
      asr_seed_mean: st.mean,
      asr_seed_ci95: st.ci95,
    });
  }
  for (const [key, runs] of accByCell) {
    const c = cells.get(key)!;
    const n = runs.reduce((t, r) => t + (r.out.counts.n ?? 0), 0);
    const hits = runs.reduce((t, r) => t + (r.out.counts.hits ?? 0), 0);
    accRows.push({ ...c, seeds: runs.length, accuracy: pct(hits, n), accuracy_ci95: wilsonPercent(hits, n), n, hits });
  }
  const asrgRows: AsrgRow[] = [];
  for (const row of asrRows) {
    if (row.domain === attackerDomain) continue;
    const own = asrRows.find((x) => x.domain === attackerDomain && cellKey(x, '') === cellKey(row, ''));
    if (!own) continue;
    const perSeed = records
      .filter((r) => r.kind === 'asrg' && r.subject.domain === row.domain && sameCell(r.subject, row))
      .map((r) => r.metrics.asrg ?? null);
    const st = seedStats(perSeed, [0, 1]);
    asrgRows.push({
      role: row.role,
      attack: row.attack,
      target: row.target,
      rate: row.rate,
      defense: row.defense,
      attacker_domain: attackerDomain,
      domain: row.domain,
      seeds: row.seeds,
      asrg: own.asr_all === null || row.asr_all === null ? null : asrg(own.asr_all, row.asr_all),
      asrg_per_seed: perSeed,
      asrg_seed_mean: st.mean,
      asrg_seed_ci95: st.ci95,
    });
  }

  // ---- training curves, layer profiles, contact sheets
  const training: ExperimentResults['training'] = [];
  for (const m of plan.models) {
    const f = m.stage ? done.get(m.stage) : undefined;
    if (!f || f.marker.kind !== 'train') continue;
    const o = f.marker.output as { steps: number; tokens: number; samples: number; first_loss: number; last_loss: number; losses: number[] };
    training.push({ model: m.id, ...cellOf(m, null), seed: m.seed, steps: o.steps, tokens: o.tokens, samples: o.samples, first_loss: o.first_loss, last_loss: o.last_loss, losses: o.losses });
  }
  const layer: ExperimentResults['layer_consistency'] = [];
  for (const r of plan.consistency) {
    const f = done.get(r.node);
    const m = modelById.get(r.model);
    if (!f || !m) continue;
    const o = f.marker.output as { n: number; clean: number[]; triggered: number[]; clean_scores: number[]; triggered_scores: number[] };
    const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    layer.push({ model: m.id, ...cellOf(m, r), seed: m.seed, domain: r.domain, n: o.n, clean: o.clean, triggered: o.triggered, clean_score_mean: mean(o.clean_scores), triggered_score_mean: mean(o.triggered_scores) });
  }
  const sheets: ExperimentResults['contact_sheets'] = [];
  const firstSeed = spec.seeds[0];
  for (const t of plan.triggers) {
    const f = done.get(t.node);
    if (!f || t.seed !== firstSeed || spec.report.contact_sheet === 0) continue;
    const images = ((f.marker.output as { images?: string[] }).images ?? []).slice(0, spec.report.contact_sheet);
    if (images.length === 0) continue;
    sheets.push({ attack: t.attack, domain: t.domain, seed: t.seed, images: images.map((p, i) => ({ poisoned: `${f.artifact}/${p}`, clean: null, label: `#${i}` })) });
  }

  return {
    schema: RESULTS_SCHEMA,
    version: RESULTS_VERSION,
    tool,
    spec: { name: spec.name, description: spec.description ?? null, file: plan.specFile, sha256: plan.specSha256, modality: plan.modality },
    seeds: spec.seeds,
    rates: spec.rates,
    attacks: plan.attacks.map((a) => ({ label: a.label, name: a.name, params: a.params, targets: a.targets, prepoisoned: a.prepoisoned })),
    defenses: spec.defenses.map((d) => ({ label: d.label ?? d.name, name: d.name, params: paramStrings(d.params), targets: d.targets ?? null })),
    domains: plan.domains,
    models: plan.models.map((m) => ({ id: m.id, ...cellOf(m, null), seed: m.seed, artifact: (m.stage && done.get(m.stage)?.artifact) ?? null })),
    records,
    summary: { asr: asrRows, asrg: asrgRows, accuracy: accRows },
    training,
    layer_consistency: layer,
    contact_sheets: sheets,
    stages: plan.nodes.flatMap((n) => {
      const f = done.get(n.id);
      return f ? [{ id: n.id, kind: n.kind, key: f.marker.key, artifact: f.artifact }] : [];
    }),
    unavailable,
  };
}

function sameCell(subject: Record<string, string>, row: Cell): boolean {
  return (
    subject.role === row.role &&
    (subject.attack ?? null) === row.attack &&
    (subject.target ?? null) === row.target &&
    (subject.rate ?? null) === (row.rate === null ? null : String(row.rate)) &&
    (subject.defense ?? null) === row.defense
  );
}
