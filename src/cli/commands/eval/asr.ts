import type { Command } from 'commander';
import { UserError } from '../../../util/errors.js';
import { emit } from '../../output.js';
import { attackSuccess, pairedAttackSuccess, type Rate } from '../../../eval/asr/score.js';
import { KEYWORD_TASKS, TARGET_MATCHES } from '../../../eval/asr/rules.js';
import { readOutputs } from '../../../eval/io.js';
import { asrRule } from '../../../eval/registry.js';
import { makeResult, writeResult } from '../../../eval/results.js';
import { renderTable } from '../../../eval/table.js';
import { seedOf, subjectOf, templateOf, userErrors, withCommonOptions, type MetaOptions } from './common.js';

interface AsrOptions extends MetaOptions {
  task?: string;
  target?: string;
  match?: string;
  caseSensitive?: boolean;
  outputs: string;
  cleanOutputs?: string;
  samples?: boolean;
}

function row(label: string, r: Rate): (string | number | null)[] {
  return [label, r.rate, r.ci95[0], r.ci95[1], r.hits, r.n, r.skipped];
}

export function registerAsr(evalCmd: Command): void {
  withCommonOptions(
    evalCmd
      .command('asr')
      .description('attack success rate of generated outputs, with a Wilson 95 % interval')
      .option('--task <task>', `keyword rule of the published evaluation: ${KEYWORD_TASKS.join('|')}`)
      .option('--target <phrase>', 'target phrase rule instead of a task, e.g. "banana"')
      .option('--match <how>', `with --target: ${TARGET_MATCHES.join('|')}`, 'contains')
      .option('--case-sensitive', 'with --target: match case')
      .requiredOption('--outputs <file>', 'outputs on triggered inputs: [{"instruction", "input", "output"}] (JSON or JSONL)')
      .option('--clean-outputs <file>', 'outputs of the same model on the same inputs without trigger, same order: ASR then counts only samples whose clean answer is not already the target, and the false-trigger rate is reported')
      .option('--samples', 'include per-sample outcomes in the --out record'),
  ).action((o: AsrOptions) => {
    if (o.task !== undefined && o.target !== undefined) throw new UserError('give either --task or --target, not both');
    if (o.task === undefined && o.target === undefined) throw new UserError('give --task or --target');
    if (o.task !== undefined && (o.match !== 'contains' || o.caseSensitive)) throw new UserError('--match and --case-sensitive go with --target');
    const rule = userErrors(() => asrRule({ task: o.task, target: o.target, match: o.match, caseSensitive: o.caseSensitive }));
    const trig = readOutputs(o.outputs);
    const outputs = trig.items.map((r) => r.output);
    const inputs = [{ role: 'outputs', path: o.outputs, sha256: trig.file.sha256, records: outputs.length }];
    const common = { subject: subjectOf(o, rule.name), seed: seedOf(o), prompts: { template: templateOf(o) }, config: rule.spec };

    if (o.cleanOutputs === undefined) {
      const { asr, outcomes } = attackSuccess(rule, outputs);
      if (o.out) {
        writeResult(
          o.out,
          makeResult('asr', {
            ...common,
            inputs,
            counts: { n: asr.n, hits: asr.hits, skipped: asr.skipped },
            metrics: { asr: asr.rate },
            intervals: { asr: asr.ci95 },
            ...(o.samples ? { samples: outcomes.map((x, index) => ({ index, ...x })) } : {}),
          }),
        );
      }
      emit(Boolean(o.json), { asr: asr.rate, n: asr.n, skipped: asr.skipped, ci95: asr.ci95 }, () =>
        renderTable(['rule', 'ASR %', 'lo', 'hi', 'hits', 'n', 'skipped'], [row(rule.name, asr)]),
      );
      return;
    }

    const clean = readOutputs(o.cleanOutputs);
    if (clean.items.length !== outputs.length) {
      throw new UserError(`${o.cleanOutputs}: ${clean.items.length} records but ${o.outputs} has ${outputs.length}; clean and triggered outputs pair by position`);
    }
    inputs.push({ role: 'clean_outputs', path: o.cleanOutputs, sha256: clean.file.sha256, records: clean.items.length });
    const p = pairedAttackSuccess(
      rule,
      outputs,
      clean.items.map((r) => r.output),
    );
    if (o.out) {
      writeResult(
        o.out,
        makeResult('asr', {
          ...common,
          inputs,
          counts: {
            n: p.asr.n,
            hits: p.asr.hits,
            skipped: p.asr.skipped,
            excluded: p.excluded,
            n_all: p.asrAll.n,
            hits_all: p.asrAll.hits,
            skipped_all: p.asrAll.skipped,
            ftr_n: p.ftr.n,
            ftr_hits: p.ftr.hits,
            ftr_skipped: p.ftr.skipped,
          },
          metrics: { asr: p.asr.rate, asr_all: p.asrAll.rate, ftr: p.ftr.rate },
          intervals: { asr: p.asr.ci95, asr_all: p.asrAll.ci95, ftr: p.ftr.ci95 },
          ...(o.samples
            ? { samples: p.triggered.map((x, index) => ({ index, ...x, clean_skipped: p.clean[index]!.skipped, clean_hit: p.clean[index]!.hit })) }
            : {}),
        }),
      );
    }
    emit(
      Boolean(o.json),
      {
        asr: p.asr.rate,
        n: p.asr.n,
        skipped: p.asr.skipped,
        ci95: p.asr.ci95,
        excluded: p.excluded,
        asr_all: p.asrAll.rate,
        n_all: p.asrAll.n,
        skipped_all: p.asrAll.skipped,
        ci95_all: p.asrAll.ci95,
        ftr: p.ftr.rate,
        ftr_n: p.ftr.n,
        ftr_skipped: p.ftr.skipped,
        ftr_ci95: p.ftr.ci95,
      },
      () =>
        renderTable(
          ['rate', 'value %', 'lo', 'hi', 'hits', 'n', 'skipped'],
          [row('ASR (clean answer not target)', p.asr), row('ASR (all triggered)', p.asrAll), row('false-trigger rate (clean)', p.ftr)],
        ) + `\n${p.excluded} sample(s) left out of ASR: their clean answer already shows the target (rule ${rule.name}).`,
    );
  });
}
