import { dirname, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { isInside } from '../util/safe-fs.js';
import { attackSuccess } from './asr/score.js';
import type { AsrRule } from './asr/rules.js';
import { readJson, readOutputs, typeName } from './io.js';
import type { MatrixCell } from './matrix.js';
import { asrRule } from './registry.js';

/**
 * A cross-domain matrix file: `{"task" | "target", "match"?, "cells": [...]}`
 * or a bare array of cells. A cell is `{"attacker", "user", "asr"}` with a
 * measured ASR in percent, or `{"attacker", "user", "outputs": FILE}` whose
 * outputs are scored with the file's rule (or the one given on the command
 * line). Paths are relative to the matrix file and must stay inside its
 * folder (symbolic links resolved), so a matrix file from elsewhere cannot
 * make this tool read, or quote in an error, any other file.
 */
export interface MatrixFile {
  cells: MatrixCell[];
  rule: AsrRule | null;
  files: { path: string; sha256: string; records: number }[];
}

export function readMatrixFile(path: string, override?: { task?: string; target?: string; match?: string; caseSensitive?: boolean }): MatrixFile {
  const v = readJson(path);
  let cellsRaw: unknown;
  let spec: Record<string, unknown> = {};
  if (Array.isArray(v)) cellsRaw = v;
  else if (v !== null && typeof v === 'object') {
    spec = v as Record<string, unknown>;
    cellsRaw = spec.cells;
    if (!Array.isArray(cellsRaw)) throw new UserError(`${path}: field "cells" must be an array, got ${typeName(cellsRaw)}`);
  } else throw new UserError(`${path}: expected {"cells": [...]} or an array of cells, got ${typeName(v)}`);

  let rule: AsrRule | null = null;
  const getRule = (where: string): AsrRule => {
    if (rule) return rule;
    const str = (k: string): string | undefined => {
      const x = spec[k];
      if (x === undefined) return undefined;
      if (typeof x !== 'string') throw new UserError(`${path}: field "${k}" must be a string, got ${typeName(x)}`);
      return x;
    };
    const task = override?.task ?? (override?.target === undefined ? str('task') : undefined);
    const target = override?.target ?? (override?.task === undefined ? str('target') : undefined);
    if (task === undefined && target === undefined) throw new UserError(`${where}: has "outputs" but no rule: give "task" or "target" in ${path} or --task/--target`);
    try {
      rule = asrRule({ task, target, match: override?.match ?? str('match'), caseSensitive: override?.caseSensitive ?? spec.case_sensitive === true });
    } catch (e) {
      throw new UserError(`${path}: ${(e as Error).message}`);
    }
    return rule;
  };

  const files: MatrixFile['files'] = [];
  const cells = (cellsRaw as unknown[]).map((c, i): MatrixCell => {
    const where = `${path}: cells[${i}]`;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new UserError(`${where}: expected an object, got ${typeName(c)}`);
    const o = c as Record<string, unknown>;
    for (const k of ['attacker', 'user']) {
      if (typeof o[k] !== 'string' || o[k] === '') throw new UserError(`${where}: field "${k}" must be a non-empty string, got ${typeName(o[k])}`);
    }
    const base = { attacker: o.attacker as string, user: o.user as string };
    if (o.asr !== undefined && o.outputs !== undefined) throw new UserError(`${where}: give "asr" or "outputs", not both`);
    if (o.asr !== undefined) {
      if (typeof o.asr !== 'number' || !Number.isFinite(o.asr) || o.asr < 0 || o.asr > 100) {
        throw new UserError(`${where}: field "asr" must be a percentage in [0, 100], got ${JSON.stringify(o.asr)}`);
      }
      return { ...base, asr: o.asr };
    }
    if (typeof o.outputs !== 'string') throw new UserError(`${where}: needs "asr" (percent) or "outputs" (file), got ${typeName(o.outputs)} for "outputs"`);
    const folder = dirname(resolve(path));
    const file = resolve(folder, o.outputs);
    if (!isInside(file, folder)) throw new UserError(`${where}: "outputs" ${JSON.stringify(o.outputs)} lies outside the folder of the matrix file (${folder}); put the outputs beside it`);
    const { file: f, items } = readOutputs(file);
    const { asr } = attackSuccess(getRule(where), items.map((r) => r.output));
    files.push({ path: file, sha256: f.sha256, records: items.length });
    if (asr.rate === null) throw new UserError(`${file}: every output is empty, so ASR is undefined (cells[${i}] of ${path})`);
    return { ...base, asr: asr.rate, n: asr.n, hits: asr.hits, ci95: asr.ci95 };
  });
  if (cells.length === 0) throw new UserError(`${path}: no cells`);
  return { cells, rule, files };
}
