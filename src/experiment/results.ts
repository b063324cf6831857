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

type Runs = Map<string, { cell: Cell & { domain: string }; runs: Array<{ seed: number; out: AsrOut }> }>;

/** Reads the finished stages of a plan into the parts of results.json, one method per part. */
class Assembler {
  private readonly modelById: Map<string, PlannedModel>;
  private readonly tool = { name: 'backdoor-lab', version: toolVersion() };
  private readonly attackerDomain: string;

  constructor(
    private readonly plan: Plan,
    private readonly done: ReadonlyMap<string, Finished>,
  ) {
    this.modelById = new Map(plan.models.map((m) => [m.id, m]));
    this.attackerDomain = plan.domains[0]?.name ?? '';
  }

  private inputOf(role: string, nodeId: string): EvalRecord['inputs'][number] | null {
    const f = this.done.get(nodeId);
    if (!f) return null;
    const o = f.marker.output as { outputs?: string; records?: number };
    const file = o.outputs ?? 'data.json';
    return { role, path: `${f.artifact}/${file}`, sha256: f.marker.files[file] ?? f.marker.sha256, records: o.records ?? 0 };
  }

  private subjectOf(m: PlannedModel, r: PlannedRecord): Record<string, string> {
    const s: Record<string, string> = { model: m.id, role: m.role, domain: r.domain };
    if (r.attack !== null) {
      s.attack = r.attack;
      s.attack_name = this.plan.attacks.find((a) => a.label === r.attack)?.name ?? r.attack;
    }
    if (r.target !== null) s.target = r.target;
    if (m.rate !== null) s.rate = String(m.rate);
    if (m.defense !== null) s.defense = m.defense;
    return s;
  }

  /** One record per finished evaluate stage, and the runs grouped by configuration and domain. */
  evalRecords(kind: 'asr' | 'accuracy'): { records: EvalRecord[]; byCell: Runs } {
    const records: EvalRecord[] = [];
    const byCell: Runs = new Map();
    for (const r of kind === 'asr' ? this.plan.asr : this.plan.accuracy) {
      const f = this.done.get(r.node);
      const m = this.modelById.get(r.model);
      if (!f || !m) continue;
      const out = f.marker.output as unknown as AsrOut;
      const node = this.plan.nodes.find((n) => n.id === r.node);
      const roles: Record<string, string> = { triggered: 'outputs', clean: 'clean_outputs' };
      const inputs = Object.entries(node?.inputs ?? {})
        .map(([role, ref]) => (ref.node ? this.inputOf(roles[role] ?? role, ref.node) : null))
        .filter((x): x is EvalRecord['inputs'][number] => x !== null);
      const gen = node?.inputs.triggered?.node ?? node?.inputs.outputs?.node;
      const template = gen ? ((this.done.get(gen)?.marker.output as { template?: string } | undefined)?.template ?? null) : null;
      records.push({ schema: RESULT_SCHEMA, version: RESULT_VERSION, kind, tool: this.tool, subject: this.subjectOf(m, r), seed: m.seed, prompts: { template }, config: out.config, inputs, counts: out.counts, metrics: out.metrics, intervals: out.intervals });
      const cell = cellOf(m, r);
      const key = cellKey(cell, r.domain);
      const entry = byCell.get(key) ?? { cell: { ...cell, domain: r.domain }, runs: [] };
      entry.runs.push({ seed: m.seed, out });
      byCell.set(key, entry);
    }
    return { records, byCell };
  }

  /** ASR-G per model, attack and user domain, from the plain ASR (over every triggered input). */
  asrgRecords(): EvalRecord[] {
    const plain = new Map<string, number | null>();
    for (const r of this.plan.asr) {
      const f = this.done.get(r.node);
      if (f) plain.set(JSON.stringify([r.model, r.attack, r.target, r.domain]), (f.marker.output as unknown as AsrOut).metrics.asr_all ?? null);
    }
    const out: EvalRecord[] = [];
    for (const r of this.plan.asr) {
      if (r.domain === this.attackerDomain) continue;
      const m = this.modelById.get(r.model);
      const a = plain.get(JSON.stringify([r.model, r.attack, r.target, this.attackerDomain]));
      const u = plain.get(JSON.stringify([r.model, r.attack, r.target, r.domain]));
      if (!m || a === undefined || u === undefined) continue;
      out.push({
        schema: RESULT_SCHEMA,
        version: RESULT_VERSION,
        kind: 'asrg',
        tool: this.tool,
        subject: { ...this.subjectOf(m, r), attacker_domain: this.attackerDomain },
        seed: m.seed,
        prompts: { template: null },
        config: { asr: 'asr_all', formula: 'min(1, 1 + (ASR_user − ASR_attacker) / max(ASR_attacker, ASR_user)); 0 when both are 0' },
        inputs: [],
        counts: {},
        metrics: { asrg: a === null || u === null ? null : asrg(a, u) },
        intervals: {},
        details: { asr_attacker: a, asr_user: u },
      });
    }
    return out;
  }

  /** ASR per configuration and domain, pooled over seeds. */
  asrRows(byCell: Runs): AsrRow[] {
    return [...byCell.values()].map(({ cell, runs }) => {
      const sum = (k: string): number => runs.reduce((t, r) => t + (r.out.counts[k] ?? 0), 0);
      const perSeed = runs.map((r) => r.out.metrics.asr ?? null);
      const st = seedStats(perSeed, [0, 100]);
      return {
        ...cell,
        seeds: runs.length,
        asr: pct(sum('hits'), sum('n')),
        asr_ci95: wilsonPercent(sum('hits'), sum('n')),
        n: sum('n'),
        hits: sum('hits'),
        asr_all: pct(sum('hits_all'), sum('n_all')),
        asr_all_ci95: wilsonPercent(sum('hits_all'), sum('n_all')),
        ftr: pct(sum('ftr_hits'), sum('ftr_n')),
        ftr_ci95: wilsonPercent(sum('ftr_hits'), sum('ftr_n')),
        asr_per_seed: perSeed,
        asr_seed_mean: st.mean,
        asr_seed_ci95: st.ci95,
      };
    });
  }

  accuracyRows(byCell: Runs): AccuracyRow[] {
    return [...byCell.values()].map(({ cell, runs }) => {
      const n = runs.reduce((t, r) => t + (r.out.counts.n ?? 0), 0);
      const hits = runs.reduce((t, r) => t + (r.out.counts.hits ?? 0), 0);
      return { ...cell, seeds: runs.length, accuracy: pct(hits, n), accuracy_ci95: wilsonPercent(hits, n), n, hits };
    });
  }

  /** ASR-G of the pooled plain ASRs, and its per-seed values with their mean. */
  asrgRows(asrRows: readonly AsrRow[], asrgRecords: readonly EvalRecord[]): AsrgRow[] {
    const out: AsrgRow[] = [];
    for (const row of asrRows) {
      if (row.domain === this.attackerDomain) continue;
      const own = asrRows.find((x) => x.domain === this.attackerDomain && cellKey(x, '') === cellKey(row, ''));
      if (!own) continue;
      const perSeed = asrgRecords.filter((r) => r.subject.domain === row.domain && sameCell(r.subject, row)).map((r) => r.metrics.asrg ?? null);
      const st = seedStats(perSeed, [0, 1]);
      out.push({
        role: row.role,
        attack: row.attack,
        target: row.target,
        rate: row.rate,
        defense: row.defense,
        attacker_domain: this.attackerDomain,
        domain: row.domain,
        seeds: row.seeds,
        asrg: own.asr_all === null || row.asr_all === null ? null : asrg(own.asr_all, row.asr_all),
        asrg_per_seed: perSeed,
        asrg_seed_mean: st.mean,
        asrg_seed_ci95: st.ci95,
      });
    }
    return out;
  }

  training(): ExperimentResults['training'] {
    return this.plan.models.flatMap((m) => {
      const f = m.stage ? this.done.get(m.stage) : undefined;
      if (!f || f.marker.kind !== 'train') return [];
      const o = f.marker.output as { steps: number; tokens: number; samples: number; first_loss: number; last_loss: number; losses: number[] };
      return [{ model: m.id, ...cellOf(m, null), seed: m.seed, steps: o.steps, tokens: o.tokens, samples: o.samples, first_loss: o.first_loss, last_loss: o.last_loss, losses: o.losses }];
    });
  }

  layerConsistency(): ExperimentResults['layer_consistency'] {
    const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    return this.plan.consistency.flatMap((r) => {
      const f = this.done.get(r.node);
      const m = this.modelById.get(r.model);
      if (!f || !m) return [];
      const o = f.marker.output as { n: number; clean: number[]; triggered: number[]; clean_scores: number[]; triggered_scores: number[] };
      return [{ model: m.id, ...cellOf(m, r), seed: m.seed, domain: r.domain, n: o.n, clean: o.clean, triggered: o.triggered, clean_score_mean: mean(o.clean_scores), triggered_score_mean: mean(o.triggered_scores) }];
    });
  }

  /** The first images of each attack's triggered test inputs per domain (first seed). */
  contactSheets(): ExperimentResults['contact_sheets'] {
    const { seeds, report } = this.plan.spec;
    return this.plan.triggers.flatMap((t) => {
      const f = this.done.get(t.node);
      if (!f || t.seed !== seeds[0] || report.contact_sheet === 0) return [];
      const images = ((f.marker.output as { images?: string[] }).images ?? []).slice(0, report.contact_sheet);
      return images.length === 0 ? [] : [{ attack: t.attack, domain: t.domain, seed: t.seed, images: images.map((p, i) => ({ poisoned: `${f.artifact}/${p}`, clean: null, label: `#${i}` })) }];
    });
  }
}

export function assembleResults(plan: Plan, done: ReadonlyMap<string, Finished>, unavailable: ExperimentResults['unavailable']): Omit<ExperimentResults, 'timing'> {
  const spec = plan.spec;
  const a = new Assembler(plan, done);
  const asr = a.evalRecords('asr');
  const accuracy = a.evalRecords('accuracy');
  const asrgRecords = a.asrgRecords();
  const asrRows = a.asrRows(asr.byCell);
  return {
    schema: RESULTS_SCHEMA,
    version: RESULTS_VERSION,
    tool: { name: 'backdoor-lab', version: toolVersion() },
    spec: { name: spec.name, description: spec.description ?? null, file: plan.specFile, sha256: plan.specSha256, modality: plan.modality },
    seeds: spec.seeds,
    rates: spec.rates,
    attacks: plan.attacks.map((x) => ({ label: x.label, name: x.name, params: x.params, targets: x.targets, prepoisoned: x.prepoisoned })),
    defenses: spec.defenses.map((d) => ({ label: d.label ?? d.name, name: d.name, params: paramStrings(d.params), targets: d.targets ?? null })),
    domains: plan.domains,
    models: plan.models.map((m) => ({ id: m.id, ...cellOf(m, null), seed: m.seed, artifact: (m.stage && done.get(m.stage)?.artifact) ?? null })),
    records: [...asr.records, ...accuracy.records, ...asrgRecords],
    summary: { asr: asrRows, asrg: a.asrgRows(asrRows, asrgRecords), accuracy: a.accuracyRows(accuracy.byCell) },
    training: a.training(),
    layer_consistency: a.layerConsistency(),
    contact_sheets: a.contactSheets(),
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
