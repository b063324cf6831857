import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { emit } from '../output.js';

interface RunFlags {
  out?: string;
  dryRun?: boolean;
  json?: boolean;
  set: string[];
  force?: boolean;
  skipUnavailable?: boolean;
}

const STATE_WORDS: Record<string, string> = {
  cached: 'cached',
  run: 'to run',
  waiting: 'to run (after its inputs)',
  unavailable: 'not available in this build',
  blocked: 'blocked (an input is not available)',
  missing: 'input missing',
};

/** `bdlab run SPEC.yaml`: an experiment from its spec, resumable, with an artifact cache. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run an experiment spec (poison → train → defend → evaluate over its grid); finished stages are reused, an interrupted run resumes; writes DIR/results.json and DIR/report.html')
    .argument('<spec>', 'experiment spec (YAML; see docs/experiments.md and examples/)')
    .option('--out <dir>', 'run folder: artifacts, results.json, report.html (default: bdlab-runs/<spec name>)')
    .option('--dry-run', 'list the stages and which are cached; run nothing')
    .option('--set <name=value>', 'set a spec variable ({name} in its paths); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--skip-unavailable', 'run what this build can and leave out stages it lacks (and what depends on them)')
    .option('--force', 'reuse a run folder that holds another spec\'s results')
    .option('--json', 'print one JSON object')
    .action(async (specFile: string, o: RunFlags) => {
      const { loadSpec, parseSets } = await import('../../experiment/spec/load.js');
      const { buildPlan } = await import('../../experiment/plan.js');
      const { statusOf, runPlan } = await import('../../experiment/runner.js');
      const { renderTable } = await import('../../eval/table.js');
      const loaded = await loadSpec(specFile, parseSets(o.set));
      const plan = buildPlan(loaded);
      const out = resolve(o.out ?? join('bdlab-runs', loaded.spec.name));
      if (o.dryRun) {
        const st = statusOf(plan, out);
        const counts: Record<string, number> = {};
        for (const s of st) counts[s.state] = (counts[s.state] ?? 0) + 1;
        emit(Boolean(o.json), { spec: loaded.spec.name, out, stages: st, counts }, () =>
          [
            renderTable(
              ['state', 'stage', 'what'],
              st.map((s) => [STATE_WORDS[s.state] ?? s.state, s.id, s.reason && s.state !== 'blocked' ? `${s.description} — ${s.reason}` : s.description]),
            ),
            `${st.length} stages: ${Object.entries(counts).map(([k, v]) => `${v} ${STATE_WORDS[k] ?? k}`).join(', ')}; run folder ${out}`,
          ].join('\n'),
        );
        return;
      }
      const results = await runPlan(plan, { out, force: o.force, skipUnavailable: o.skipUnavailable });
      const { renderReport } = await import('../../report/report.js');
      const { writeFileAtomic } = await import('../../util/atomic.js');
      const reportPath = join(out, 'report.html');
      writeFileAtomic(reportPath, await renderReport(results, { baseDir: out }));
      const ran = results.timing?.stages.filter((s) => s.status === 'ran').length ?? 0;
      const cached = (results.timing?.stages.length ?? 0) - ran;
      const pct = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(1));
      emit(
        Boolean(o.json),
        { spec: loaded.spec.name, out, results: join(out, 'results.json'), report: reportPath, stages: { ran, cached, unavailable: results.unavailable.length }, summary: results.summary },
        () =>
          [
            renderTable(
              ['model', 'attack', 'target', 'rate', 'defense', 'domain', 'seeds', 'ASR %', '95 % CI', 'ASR all %', 'false trig. %'],
              results.summary.asr.map((r) => [r.role, r.attack, r.target, r.rate, r.defense, r.domain, r.seeds, pct(r.asr), `${pct(r.asr_ci95[0])}–${pct(r.asr_ci95[1])}`, pct(r.asr_all), pct(r.ftr)]),
            ),
            results.summary.asrg.length
              ? '\n' + renderTable(['model', 'attack', 'rate', 'defense', 'user domain', 'ASR-G'], results.summary.asrg.map((r) => [r.role, r.attack, r.rate, r.defense, r.domain, r.asrg === null ? 'n/a' : r.asrg.toFixed(3)]))
              : '',
            `\n${ran} stage(s) ran, ${cached} cached${results.unavailable.length ? `, ${results.unavailable.length} not available in this build (left out)` : ''}; wrote ${join(out, 'results.json')} and ${reportPath}`,
          ].join('\n'),
      );
    });
}
