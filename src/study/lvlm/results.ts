// The study's figures from its generated captions, in the project's
// evaluation-result record (src/eval/results.ts, kind `study`):
// - per attack × rate × seed × domain: ASR over every triggered caption
//   (`asr_all`), ASR over the scenes whose clean caption lacks the target
//   (`asr`, clean-conditioned), false-trigger rate on clean inputs, CIDEr;
// - the same pooled over seeds, each with percentile bootstrap intervals over
//   images (seeds fixed) and over seeds and images;
// - ASR-G matrices (attacker domain × user domain) from plain ASR (the
//   published definition), their mean over user domains, and beside them the
//   same from clean-conditioned ASR (this project's variant: a shift that makes
//   the victim name the target without a trigger does not count as the
//   backdoor generalising); whether a backdoor was implanted at all (in the
//   attacker domain, ASR minus the false-trigger rate on the same scenes, in
//   points, has a 95 % interval above 0); ASR against the poisoning rate, and
//   the controls.
import { targetRule } from '../../eval/asr/rules.js';
import { scoreOne } from '../../eval/asr/score.js';
import { evaluateCaptions } from '../../eval/caption/coco.js';
import { buildMatrix } from '../../eval/matrix.js';
import { makeResult, type EvalResult } from '../../eval/results.js';
import type { CaptionQuality } from './base.js';
import type { StudyPlan } from './config.js';
import { TARGET_WORD } from './config.js';
import type { DomainOutputs } from './evaluate.js';
import type { StudyTraining } from './victim.js';
import { asrgOf, bootstrapIntervals, counts, pct, pooled, type Outcomes } from './stats.js';

/** A figure pooled over seeds, with its intervals and per-seed values. */
export interface Estimate {
  value: number | null;
  ci95_images: [number, number] | null;
  ci95_seeds: [number, number] | null;
  per_seed: (number | null)[];
}

/** One victim (attack × rate × seed): its poisoned set, its tuning and its captions in every domain. */
export interface VictimRun {
  attack: string;
  /** The attacker domain the victim was poisoned in. */
  attacker: string;
  params: Record<string, unknown>;
  rate: number;
  seed: number;
  poison: { records: number; poisoned: number; negatives: number };
  training: StudyTraining;
  outputs: DomainOutputs[];
}

export interface StudyInputs {
  plan: StudyPlan;
  world: { key: string; images: number; splits: Record<string, number> };
  base: { key: string; training: Record<string, unknown>; quality: CaptionQuality[] };
  runs: VictimRun[];
  /** Reference captions of each domain's test scenes, by domain label, aligned with `outputs[].scenes`. */
  references: Map<string, string[][]>;
  seconds: number;
  stages: { built: number; reused: number };
}

const rule = targetRule(TARGET_WORD);

function outcomes(outputs: readonly string[]): Outcomes {
  const o = outputs.map((t) => scoreOne(rule, t));
  return { scored: o.map((x) => !x.skipped), hit: o.map((x) => x.hit) };
}

/** Triggered outcomes restricted to scenes whose clean caption does not already carry the target. */
function conditioned(trig: Outcomes, clean: Outcomes): Outcomes {
  return { scored: trig.scored.map((s, i) => s && !clean.hit[i]), hit: trig.hit };
}

interface DomainScores {
  clean: Outcomes;
  triggered: Outcomes;
  conditioned: Outcomes;
  cider: number[];
  controls: Record<string, Outcomes>;
}

function scoreDomain(o: DomainOutputs, refs: string[][]): DomainScores {
  const clean = outcomes(o.clean);
  const triggered = outcomes(o.triggered);
  const controls: Record<string, Outcomes> = {};
  for (const [k, v] of Object.entries(o.controls)) controls[k] = outcomes(v);
  return { clean, triggered, conditioned: conditioned(triggered, clean), cider: Array.from(evaluateCaptions(o.clean, refs).perImage.CIDEr), controls };
}

const round = (v: number | null, d = 4): number | null => (v === null ? null : Math.round(v * 10 ** d) / 10 ** d);
const roundIv = (iv: [number, number] | null): [number, number] | null => (iv === null ? null : [round(iv[0]) as number, round(iv[1]) as number]);

export function buildStudyResult(inp: StudyInputs): EvalResult {
  const { plan } = inp;
  const B = plan.spec.eval.bootstrap;
  const labels = plan.domains.map((d) => d.label);
  const attackerLabels = plan.attackerDomains.map((d) => d.label);
  const scored = inp.runs.map((r) => ({
    run: r,
    domains: new Map(r.outputs.map((o) => [o.domain, scoreDomain(o, inp.references.get(o.domain) ?? [])])),
  }));
  const group = (attack: string, rate: number, attacker: string): typeof scored =>
    scored.filter((s) => s.run.attack === attack && s.run.rate === rate && s.run.attacker === attacker).sort((a, b) => a.run.seed - b.run.seed);

  /** An estimate of a statistic over the seeds of one attack × rate. */
  const estimate = (runs: typeof scored, stat: (draw: ReadonlyArray<{ run: number; idx?: ArrayLike<number> }>) => number | null, salt: string): Estimate => {
    const n = runs.map((r) => (r.run.outputs[0]?.scenes.length ?? 0));
    const iv = bootstrapIntervals(n, stat, B, salt);
    return {
      value: round(stat(runs.map((_, run) => ({ run })))),
      ci95_images: roundIv(iv.images),
      ci95_seeds: roundIv(iv.seeds),
      per_seed: runs.map((_, run) => round(stat([{ run }]))),
    };
  };
  const dom = (runs: typeof scored, run: number, label: string): DomainScores => runs[run]?.domains.get(label) as DomainScores;
  const rateStat = (runs: typeof scored, label: string, pick: (d: DomainScores) => Outcomes) => (draw: ReadonlyArray<{ run: number; idx?: ArrayLike<number> }>): number | null =>
    pooled(draw.map((d) => ({ o: pick(dom(runs, d.run, label)), idx: d.idx })));
  const ciderStat = (runs: typeof scored, label: string) => (draw: ReadonlyArray<{ run: number; idx?: ArrayLike<number> }>): number | null => {
    let sum = 0;
    let n = 0;
    for (const d of draw) {
      const c = dom(runs, d.run, label).cider;
      const m = d.idx ? d.idx.length : c.length;
      for (let k = 0; k < m; k++) sum += c[d.idx ? (d.idx[k] as number) : k] as number;
      n += m;
    }
    return n === 0 ? null : sum / n;
  };
  type Pick = (d: DomainScores) => Outcomes;
  const plain: Pick = (d) => d.triggered;
  const cleanConditioned: Pick = (d) => d.conditioned;
  const cleanInputs: Pick = (d) => d.clean;
  const asrgStat = (runs: typeof scored, att: string, user: string, pick: Pick) => (draw: ReadonlyArray<{ run: number; idx?: ArrayLike<number> }>): number | null =>
    asrgOf(rateStat(runs, att, pick)(draw), rateStat(runs, user, pick)(draw));
  const meanAsrgStat = (runs: typeof scored, att: string, pick: Pick) => (draw: ReadonlyArray<{ run: number; idx?: ArrayLike<number> }>): number | null => {
    const vals = labels.filter((u) => u !== att).map((u) => asrgStat(runs, att, u, pick)(draw)).filter((v): v is number => v !== null);
    return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  };

  const cells: unknown[] = [];
  const summaries: unknown[] = [];
  const matrices: unknown[] = [];
  const controls: unknown[] = [];
  const curves: Record<string, unknown[]> = {};
  const metrics: Record<string, number | null> = {};
  const intervals: Record<string, [number, number]> = {};
  const put = (k: string, e: Estimate): void => {
    metrics[k] = e.value;
    if (e.ci95_seeds) intervals[k] = e.ci95_seeds;
  };
  for (const a of plan.attacks) {
    curves[a.name] = [];
    for (const rate of plan.rates) {
      for (const att of attackerLabels) {
        const runs = group(a.name, rate, att);
        if (runs.length === 0) continue;
        for (const s of runs) {
          for (const label of labels) {
            const d = s.domains.get(label) as DomainScores;
            const all = counts(d.triggered);
            const cond = counts(d.conditioned);
            const ftr = counts(d.clean);
            cells.push({
              attack: a.name,
              rate,
              attacker: att,
              seed: s.run.seed,
              domain: label,
              n: d.clean.scored.length,
              asr_all: round(pct(all)),
              asr: round(pct(cond)),
              ftr: round(pct(ftr)),
              cider: round(d.cider.reduce((x, y) => x + y, 0) / Math.max(1, d.cider.length)),
              counts: { hits_all: all.hits, n_all: all.n, hits: cond.hits, n: cond.n, ftr_hits: ftr.hits, ftr_n: ftr.n },
            });
          }
        }
        for (const label of labels) {
          const salt = `${a.name}|${rate}|${att}|${label}`;
          summaries.push({
            attack: a.name,
            rate,
            attacker: att,
            domain: label,
            seeds: runs.map((r) => r.run.seed),
            asr_all: estimate(runs, rateStat(runs, label, plain), `${salt}|asr_all`),
            asr: estimate(runs, rateStat(runs, label, cleanConditioned), `${salt}|asr`),
            ftr: estimate(runs, rateStat(runs, label, cleanInputs), `${salt}|ftr`),
            cider: estimate(runs, ciderStat(runs, label), `${salt}|cider`),
          });
        }
        const point = buildMatrix(labels.map((u) => ({ attacker: att, user: u, asr: pooled(runs.map((r) => ({ o: (r.domains.get(u) as DomainScores).triggered }))) ?? 0 })));
        const row = labels.map((u) => ({
          user: u,
          asrg: estimate(runs, asrgStat(runs, att, u, plain), `${a.name}|${rate}|${att}|${u}|asrg`),
          asrg_conditioned: estimate(runs, asrgStat(runs, att, u, cleanConditioned), `${a.name}|${rate}|${att}|${u}|asrg_conditioned`),
        }));
        const mean = estimate(runs, meanAsrgStat(runs, att, plain), `${a.name}|${rate}|${att}|mean_asrg`);
        const meanConditioned = estimate(runs, meanAsrgStat(runs, att, cleanConditioned), `${a.name}|${rate}|${att}|mean_asrg_conditioned`);
        const asrAtt = estimate(runs, rateStat(runs, att, plain), `${a.name}|${rate}|${att}|asr_all`);
        // the trigger's own effect, paired by scene: triggered inputs against the same inputs clean
        const effect = estimate(
          runs,
          (draw) => {
            const on = rateStat(runs, att, plain)(draw);
            const off = rateStat(runs, att, cleanInputs)(draw);
            return on === null || off === null ? null : on - off;
          },
          `${a.name}|${rate}|${att}|trigger_effect`,
        );
        matrices.push({
          attack: a.name,
          rate,
          attacker: att,
          trigger_effect: effect,
          implanted: effect.ci95_seeds !== null && effect.ci95_seeds[0] > 0,
          users: labels,
          asr_all: (point.asr[0] ?? []).map((v) => round(v)),
          asrg: row,
          mean_asrg: mean,
          mean_asrg_conditioned: meanConditioned,
        });
        put(`asr_attacker/${a.name}/${rate}/${att}`, asrAtt);
        put(`mean_asrg/${a.name}/${rate}/${att}`, mean);
        put(`mean_asrg_conditioned/${a.name}/${rate}/${att}`, meanConditioned);
        (curves[a.name] as unknown[]).push({ rate, attacker: att, asr_all: asrAtt, mean_asrg: mean, poisoned: runs.map((r) => r.run.poison.poisoned) });
        for (const c of Object.keys(runs[0]?.domains.get(att)?.controls ?? {})) {
          controls.push({ attack: a.name, rate, attacker: att, control: c, asr_all: estimate(runs, rateStat(runs, att, (d) => d.controls[c] as Outcomes), `${a.name}|${rate}|${att}|${c}`) });
        }
      }
    }
  }
  for (const q of inp.base.quality) metrics[`base_cider/${q.domain}`] = round(q.cider);
  return makeResult('study', {
    subject: { model: `llava-study-${plan.scale}`, attack: plan.attacks.map((a) => a.name).join(','), task: 'caption', domain: attackerLabels.join(',') },
    seed: null,
    prompts: { template: null },
    config: {
      study: 'lvlm',
      scale: plan.scale,
      spec: plan.spec,
      finetuning: plan.finetuning,
      attacks: plan.attacks,
      attacker_domains: attackerLabels,
      domains: labels,
      rates: plan.rates,
      seeds: plan.seeds,
      target: plan.target,
      asr_rule: rule.spec,
      interval: { method: 'percentile bootstrap', resamples: B, images: 'test scenes resampled within each seed (paired across domains)', seeds: 'seeds resampled, then test scenes within each' },
    },
    counts: { victims: inp.runs.length, domains: labels.length, test_scenes: inp.runs[0]?.outputs[0]?.scenes.length ?? 0, stages_built: inp.stages.built, stages_reused: inp.stages.reused },
    metrics,
    intervals,
    details: {
      world: inp.world,
      base: { key: inp.base.key, training: inp.base.training, quality: inp.base.quality.map(({ per_image_cider: _p, ...q }) => ({ ...q, cider: round(q.cider), bleu_4: round(q.bleu_4), rouge_l: round(q.rouge_l) })) },
      victims: inp.runs.map((r) => ({ attack: r.attack, attacker: r.attacker, params: r.params, rate: r.rate, seed: r.seed, poison: r.poison, training: { steps: r.training.steps, first_loss: r.training.first_loss, last_loss: r.training.last_loss, seconds: r.training.seconds, trained_parameters: r.training.trained_parameters, trainable: r.training.trainable } })),
      cells,
      summaries,
      asrg: matrices,
      rate_curves: curves,
      controls,
      examples: inp.runs.map((r) => ({
        attack: r.attack,
        attacker: r.attacker,
        rate: r.rate,
        seed: r.seed,
        outputs: r.outputs.map((o) => ({ domain: o.domain, scene: o.scenes[0], clean: o.clean[0], triggered: o.triggered[0] })),
      })),
      seconds: Math.round(inp.seconds),
    },
  });
}
