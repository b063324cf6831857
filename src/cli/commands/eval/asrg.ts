import type { Command } from 'commander';
import { emit } from '../../output.js';
import { asrg } from '../../../eval/asrg.js';
import { buildMatrix } from '../../../eval/matrix.js';
import { readMatrixFile } from '../../../eval/matrix-file.js';
import { checkResultPath, makeResult, writeResult } from '../../../eval/results.js';
import { renderTable } from '../../../eval/table.js';
import { numberFlag, seedOf, subjectOf, templateOf, userErrors, withCommonOptions, type MetaOptions } from './common.js';

interface AsrgOptions extends MetaOptions {
  attacker: string;
  user: string;
}

export function registerAsrg(evalCmd: Command): void {
  withCommonOptions(
    evalCmd
      .command('asrg')
      .description('ASR-G: how far a backdoor generalises from the attacker\'s domain to the user\'s')
      .requiredOption('--attacker <percent>', 'ASR on the attacker\'s own domain, in percent')
      .requiredOption('--user <percent>', 'ASR on the user\'s (shifted) domain, in percent'),
  ).action((o: AsrgOptions) => {
    const a = numberFlag('--attacker', o.attacker, { min: 0, max: 100 })!;
    const u = numberFlag('--user', o.user, { min: 0, max: 100 })!;
    const g = asrg(a, u);
    if (o.out) {
      writeResult(
        o.out,
        makeResult('asrg', {
          subject: subjectOf(o, 'asrg'),
          seed: seedOf(o),
          config: { formula: 'min(1, 1 + (U - A) / max(A, U)); 0 if A = U = 0' },
          metrics: { asrg: g, asr_attacker: a, asr_user: u },
        }),
      );
    }
    emit(Boolean(o.json), { asrg: g }, () => `ASR-G ${g.toFixed(4)}  (ASR attacker ${a} %, user ${u} %)`);
  });
}

interface MatrixOptions extends MetaOptions {
  cells: string;
  task?: string;
  target?: string;
  match?: string;
  caseSensitive?: boolean;
}

export function registerMatrix(evalCmd: Command): void {
  withCommonOptions(
    evalCmd
      .command('matrix')
      .description('cross-domain matrix of ASR and ASR-G: attacker domain (rows) × user domain (columns)')
      .requiredOption('--cells <file>', 'JSON {"task"|"target", "cells": [{"attacker", "user", "asr" | "outputs"}]}')
      .option('--task <task>', 'rule for cells given as outputs (overrides the file)')
      .option('--target <phrase>', 'target phrase rule for cells given as outputs (overrides the file)')
      .option('--match <how>', 'with --target: contains|word|exact')
      .option('--case-sensitive', 'with --target: match case'),
  ).action((o: MatrixOptions) => {
    if (o.out) checkResultPath(o.out, [{ role: 'cells', path: o.cells }]);
    const mf = readMatrixFile(o.cells, { task: o.task, target: o.target, match: o.match, caseSensitive: o.caseSensitive });
    const m = userErrors(() => buildMatrix(mf.cells));
    const details = {
      attackers: m.attackers,
      users: m.users,
      asr: m.asr,
      ci95: m.ci95,
      asrg: m.asrg,
      mean_asrg_shifted: m.meanAsrgShifted,
      mean_asrg: m.meanAsrgAll,
    };
    if (o.out) {
      writeResult(
        o.out,
        makeResult('matrix', {
          subject: subjectOf(o, mf.rule?.name ?? 'matrix'),
          seed: seedOf(o),
          prompts: { template: templateOf(o) },
          config: { rule: mf.rule?.spec ?? null, cells_file: o.cells },
          inputs: mf.files.map((f) => ({ role: 'outputs', ...f })),
          counts: { cells: mf.cells.length },
          metrics: { mean_asrg: m.meanAsrgAll },
          details,
        }),
      );
    }
    emit(Boolean(o.json), details, () => {
      const asrRows = m.attackers.map((a, r) => [a, ...m.asr[r]!]);
      const gRows = m.attackers.map((a, r) => [a, ...m.asrg[r]!, m.meanAsrgShifted[r]]);
      return [
        'ASR % (rows: attacker domain, columns: user domain)',
        renderTable(['attacker \\ user', ...m.users], asrRows),
        '',
        'ASR-G',
        renderTable(['attacker \\ user', ...m.users, 'mean shifted'], gRows, { digits: 3 }),
        '',
        `mean ASR-G over shifted cells: ${m.meanAsrgAll === null ? 'n/a' : m.meanAsrgAll.toFixed(3)}`,
      ].join('\n');
    });
  });
}
