import type { Command } from 'commander';
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
    .option('--force', 'use a folder that holds something else')
    .option('--json', 'print one JSON object')
    .action(async (o: { out: string; part: string[]; force?: boolean; json?: boolean }) => {
      const { runDemo } = await import('../../experiment/demo.js');
      const out = resolve(o.out);
      const r = await runDemo({ out, force: o.force, ...(o.part.length ? { parts: o.part } : {}) });
      emit(Boolean(o.json), r, () =>
        [
          ...r.parts.flatMap((p) => [`== ${p.name} (${p.seconds.toFixed(0)} s) ==`, p.tables, '', ...p.scale, '']),
          ...r.missing.map((m) => `${m.name}: left out (${m.reason})`),
          `wrote ${join(out, 'results.json')} and ${join(out, 'report.html')}; every part's files are under ${out}`,
        ].join('\n'),
      );
    });
}
