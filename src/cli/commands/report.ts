import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { emit } from '../output.js';
import { UserError } from '../../util/errors.js';

/** `bdlab report RESULTS.json`: one self-contained HTML report, readable offline. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write the HTML report of a results file (bdlab run or bdlab demo): tables, heat map, curves, the CROW figure, contact sheets; one self-contained file')
    .argument('<results>', 'results.json of `bdlab run` (or of `bdlab demo`)')
    .option('--out <file>', 'the report (default: report.html beside the results)')
    .option('--force', 'overwrite an existing report')
    .option('--json', 'print one JSON object')
    .action(async (file: string, o: { out?: string; force?: boolean; json?: boolean }) => {
      const { readResults, renderReport } = await import('../../report/report.js');
      const { demoReportHtml } = await import('../../report/demo-report.js');
      const { writeFileAtomic } = await import('../../util/atomic.js');
      const out = resolve(o.out ?? join(dirname(file), 'report.html'));
      if (existsSync(out) && !o.force) throw new UserError(`${out}: already exists (give --force to overwrite, or --out)`);
      const r = readResults(file);
      const html = r.kind === 'experiment' ? await renderReport(r.results, { baseDir: dirname(resolve(file)) }) : await demoReportHtml(r.results as Parameters<typeof demoReportHtml>[0]);
      writeFileAtomic(out, html);
      const charts = (html.match(/<figure class="chart"/g) ?? []).length;
      emit(Boolean(o.json), { report: out, bytes: Buffer.byteLength(html), charts }, () => `wrote ${out} (${charts} chart${charts === 1 ? '' : 's'}, ${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB)`);
    });
}
