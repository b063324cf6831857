import type { Command } from 'commander';
import { emit } from '../../output.js';
import { aggregateResults, checkPoolable } from '../../../eval/aggregate.js';
import { fileSha256 } from '../../../eval/io.js';
import { makeResult, readResult, writeResult } from '../../../eval/results.js';
import { renderTable } from '../../../eval/table.js';

interface AggregateOptions {
  json?: boolean;
  out?: string;
  allowMixed?: boolean;
}

export function registerAggregate(evalCmd: Command): void {
  evalCmd
    .command('aggregate')
    .description('mean, standard deviation and 95 % t-interval over repeated runs (seeds) of one evaluation')
    .argument('<results...>', 'result files written with --out by the same kind of evaluation')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'write the aggregate as a versioned result record')
    .option('--allow-mixed', 'pool runs whose protocol differs (task, clean conditioning of ASR, template); by default they are refused')
    .action((files: string[], o: AggregateOptions) => {
      const results = files.map(readResult);
      const digests = files.map(fileSha256);
      checkPoolable(results, files, digests, Boolean(o.allowMixed));
      const agg = aggregateResults(results, files);
      if (o.out) {
        const subject = results[0]!.subject;
        writeResult(
          o.out,
          makeResult('aggregate', {
            subject: { ...subject, aggregated_kind: agg.kind },
            prompts: { template: results[0]!.prompts.template },
            config: results[0]!.config,
            inputs: files.map((f, i) => ({ role: `run ${i}`, path: f, sha256: digests[i] as string, records: 1 })),
            counts: { runs: agg.runs },
            metrics: Object.fromEntries(Object.entries(agg.metrics).map(([k, v]) => [k, v.mean])),
            intervals: Object.fromEntries(Object.entries(agg.metrics).map(([k, v]) => [k, v.ci95])),
            details: { seeds: agg.seeds, metrics: agg.metrics, pooled: agg.pooled },
          }),
        );
      }
      emit(Boolean(o.json), agg, () => {
        const rows = Object.entries(agg.metrics).map(([k, v]) => [k, v.mean, v.std, v.ci95[0], v.ci95[1], v.n]);
        let s = `${agg.runs} run(s) of "${agg.kind}", seeds ${agg.seeds.map((x) => x ?? '?').join(', ')}\n`;
        s += renderTable(['metric', 'mean', 'std', 'lo', 'hi', 'runs'], rows, { digits: 4 });
        const pooled = Object.entries(agg.pooled);
        if (pooled.length) {
          s += '\n\npooled over runs (Wilson 95 %)\n';
          s += renderTable(['rate', '%', 'lo', 'hi', 'hits', 'n'], pooled.map(([k, p]) => [k, p.rate, p.ci95[0], p.ci95[1], p.hits, p.n]));
        }
        return s;
      });
    });
}
