import { Option, type Command } from '../commander.js';
import { parseCount } from '../flags.js';
import { join, resolve } from 'node:path';
import { emit } from '../output.js';

/** `bdlab demo`: the built-in studies through the experiment runner, resumable. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the built-in studies (the LLM study of examples/demo-llm.yaml: backdoors planted through LoRA, defenses, ASR, clean accuracy and detection before and after; and the vision-language study where this build has it) into one folder; finished stages are reused, an interrupted demo resumes; writes results.json and report.html',
    )
    .option('--out <dir>', 'output folder', 'bdlab-demo')
    .option('--part <name>', 'run only this part (llm, lvlm); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--quick', 'the reduced studies (same stages, fewer of each) in about a minute, to check an installation; the numbers mean nothing')
    .option('--jobs <n>', 'parts run at once, each in its own process (default: one per core, at most the parts)')
    .addOption(new Option('--part-only', 'run the one --part and print its result only (used by a parallel demo)').hideHelp())
    .option('--force', 'use a folder that holds something else')
    .option('--json', 'print one JSON object')
    .action(async (o: { out: string; part: string[]; jobs?: string; quick?: boolean; partOnly?: boolean; force?: boolean; json?: boolean }) => {
      const { runDemo } = await import('../../experiment/demo.js');
      const out = resolve(o.out);
      const jobs = o.jobs === undefined ? undefined : parseCount(o.jobs, '--jobs', { min: 1 });
      const r = await runDemo({ out, force: o.force, jobs, quick: o.quick, partOnly: o.partOnly, ...(o.part.length ? { parts: o.part } : {}) });
      emit(Boolean(o.json), r, () =>
        [
          ...r.parts.flatMap((p) => [`== ${p.name} (${p.seconds.toFixed(0)} s) ==`, p.tables, '', ...p.scale, '']),
          ...r.missing.map((m) => `${m.name}: left out (${m.reason})`),
          `wrote ${join(out, 'results.json')} and ${join(out, 'report.html')}; every part's files are under ${out}`,
        ].join('\n'),
      );
    });
}
