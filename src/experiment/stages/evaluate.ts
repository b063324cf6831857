import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asrRule } from '../../eval/registry.js';
import { pairedAttackSuccess } from '../../eval/asr/score.js';
import { wilsonPercent } from '../../eval/stats/wilson.js';
import { UserError } from '../../util/errors.js';
import { readSamples } from './records.js';
import { registerStage } from './registry.js';
import type { Input, Json } from './types.js';

/**
 * `evaluate`: scores generated outputs, giving the parts of an evaluation
 * record (src/eval/results.ts: config, counts, metrics, intervals); the
 * results file adds the subject (model, attack, domain, seed).
 * - `asr`: inputs `triggered` and `clean` (outputs of one model on the same
 *   inputs with and without trigger): ASR counted only where the clean answer
 *   is not already the target, ASR over all triggered outputs, false-trigger
 *   rate — as `bdlab eval asr --clean-outputs` records them.
 * - `exact_match`: input `outputs` against `references` (answers equal after
 *   trimming): clean accuracy.
 */
export type EvaluateParams =
  | { metric: 'asr'; rule: { task?: string; target?: string } }
  | { metric: 'exact_match' };

export type EvaluateOutput = {
  kind: 'asr' | 'accuracy';
  config: Json;
  counts: Record<string, number>;
  metrics: Record<string, number | null>;
  intervals: Record<string, [number, number]>;
};

function outputsOf(i: Input): string[] {
  const o = i.output as { outputs?: unknown } | null;
  if (!o || typeof o.outputs !== 'string') throw new Error('evaluate: input is not a generate artifact');
  const rows = JSON.parse(readFileSync(join(i.path, o.outputs), 'utf8')) as Array<{ output: string }>;
  return rows.map((r) => r.output);
}

export const evaluateStage = registerStage<EvaluateParams, EvaluateOutput>({
  kind: 'evaluate',
  version: 1,
  describe: (p) => (p.metric === 'asr' ? `score attack success (${p.rule.task ?? `target "${p.rule.target}"`})` : 'score clean accuracy (exact answers)'),
  async run(ctx) {
    const p = ctx.params;
    if (p.metric === 'asr') {
      const rule = asrRule(p.rule);
      const triggered = outputsOf(ctx.inputs.triggered as Input);
      const clean = outputsOf(ctx.inputs.clean as Input);
      if (triggered.length !== clean.length) throw new UserError(`evaluate: ${triggered.length} triggered but ${clean.length} clean outputs; they pair by position`);
      const r = pairedAttackSuccess(rule, triggered, clean);
      const out: EvaluateOutput = {
        kind: 'asr',
        config: rule.spec as Json,
        counts: {
          n: r.asr.n,
          hits: r.asr.hits,
          skipped: r.asr.skipped,
          excluded: r.excluded,
          n_all: r.asrAll.n,
          hits_all: r.asrAll.hits,
          skipped_all: r.asrAll.skipped,
          ftr_n: r.ftr.n,
          ftr_hits: r.ftr.hits,
          ftr_skipped: r.ftr.skipped,
        },
        metrics: { asr: r.asr.rate, asr_all: r.asrAll.rate, ftr: r.ftr.rate },
        intervals: { asr: r.asr.ci95, asr_all: r.asrAll.ci95, ftr: r.ftr.ci95 },
      };
      return out;
    }
    const outputs = outputsOf(ctx.inputs.outputs as Input);
    const refs = readSamples((ctx.inputs.references as Input).path).map((s) => s.output.trim());
    if (outputs.length !== refs.length) throw new UserError(`evaluate: ${outputs.length} outputs but ${refs.length} reference answers`);
    const hits = outputs.filter((o, i) => o.trim() === refs[i]).length;
    const n = outputs.length;
    const out: EvaluateOutput = {
      kind: 'accuracy',
      config: { rule: 'exact_match', normalise: 'trim' },
      counts: { n, hits },
      metrics: { accuracy: n === 0 ? null : (hits * 100) / n },
      intervals: { accuracy: wilsonPercent(hits, n) },
    };
    return out;
  },
});
