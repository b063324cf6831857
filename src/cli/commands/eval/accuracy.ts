import type { Command } from 'commander';
import { UserError } from '../../../util/errors.js';
import { emit } from '../../output.js';
import { labelAccuracy } from '../../../eval/accuracy.js';
import { readOutputs, readRecords, recordAt, typeName } from '../../../eval/io.js';
import { makeResult, writeResult } from '../../../eval/results.js';
import { renderTable } from '../../../eval/table.js';
import { seedOf, subjectOf, templateOf, withCommonOptions, type MetaOptions } from './common.js';

interface AccuracyOptions extends MetaOptions {
  outputs: string;
  refs: string;
  refField: string;
  labels?: string;
  labelMap?: string;
}

function parseLabelMap(s: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (!s) return m;
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UserError(`--label-map: expected value=label pairs separated by commas, got ${JSON.stringify(part)}`);
    m.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return m;
}

export function registerAccuracy(evalCmd: Command): void {
  withCommonOptions(
    evalCmd
      .command('accuracy')
      .description('accuracy on a label task (e.g. SST-2): the first label word in each answer against the reference label')
      .requiredOption('--outputs <file>', 'model outputs: [{"instruction", "input", "output"}]')
      .requiredOption('--refs <file>', 'reference records in the same order, label in --ref-field (e.g. a BackdoorLLM clean test file)')
      .option('--ref-field <name>', 'field of --refs holding the label', 'output')
      .option('--labels <list>', 'comma-separated label set (default: the distinct reference labels)')
      .option('--label-map <pairs>', 'map reference values to labels, e.g. 0=Negative,1=Positive'),
  ).action((o: AccuracyOptions) => {
    const out = readOutputs(o.outputs);
    const refs = readRecords(o.refs);
    if (refs.records.length !== out.items.length) {
      throw new UserError(`${o.refs}: ${refs.records.length} records but ${o.outputs} has ${out.items.length}; they pair by position`);
    }
    const map = parseLabelMap(o.labelMap);
    const given = o.labels?.split(',').map((s) => s.trim()).filter(Boolean);
    const refLabels = refs.records.map((_, i) => {
      const v = recordAt(refs, i)[o.refField];
      if (v === undefined) throw new UserError(`${o.refs}: ${refs.where(i)}: missing field "${o.refField}"`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new UserError(`${o.refs}: ${refs.where(i)}: field "${o.refField}" must be a label (string or number), got ${typeName(v)}`);
      }
      const label = map.get(String(v)) ?? String(v);
      if (given && !given.some((g) => g.toLowerCase() === label.toLowerCase())) {
        throw new UserError(`${o.refs}: ${refs.where(i)}: label ${JSON.stringify(label)} in field "${o.refField}" is not one of --labels ${given.join(',')}`);
      }
      return label;
    });
    const labels = given ?? [...new Set(refLabels)].sort();
    const r = labelAccuracy(
      out.items.map((x) => x.output),
      refLabels,
      labels,
    );
    if (o.out) {
      writeResult(
        o.out,
        makeResult('accuracy', {
          subject: subjectOf(o, 'accuracy'),
          seed: seedOf(o),
          prompts: { template: templateOf(o) },
          config: { labels, ref_field: o.refField, label_map: Object.fromEntries(map), parse: 'first label word in the answer, case-insensitive, whole word' },
          inputs: [
            { role: 'outputs', path: o.outputs, sha256: out.file.sha256, records: out.items.length },
            { role: 'references', path: o.refs, sha256: refs.sha256, records: refs.records.length },
          ],
          counts: { n: r.n, correct: r.correct, unparsed: r.unparsed },
          metrics: { accuracy: r.accuracy },
          intervals: { accuracy: r.ci95 },
          details: { confusion: r.confusion },
        }),
      );
    }
    emit(Boolean(o.json), { accuracy: r.accuracy, n: r.n, correct: r.correct, unparsed: r.unparsed, ci95: r.ci95 }, () => {
      const cols = [...labels, '(none)'];
      const rows = Object.keys(r.confusion)
        .sort()
        .map((ref) => [ref, ...cols.map((c) => r.confusion[ref]![c] ?? 0)]);
      return (
        renderTable(['accuracy %', 'lo', 'hi', 'correct', 'n', 'unparsed'], [[r.accuracy, r.ci95[0], r.ci95[1], r.correct, r.n, r.unparsed]]) +
        '\n\nconfusion (rows: reference, columns: answer)\n' +
        renderTable(['reference', ...cols], rows)
      );
    });
  });
}
