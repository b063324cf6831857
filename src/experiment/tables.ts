import { renderTable } from '../eval/table.js';
import type { ExperimentResults } from './results-schema.js';

/**
 * The summary of a results file as terminal tables (`bdlab run`, `bdlab
 * demo`): ASR per configuration and domain with its interval, the
 * specificity controls, ASR-G, clean accuracy and detection AUROC.
 */
const pct = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(1));
const ci = (c: readonly [number, number] | null): string => (c === null ? '' : `${pct(c[0])}–${pct(c[1])}`);

export function summaryTables(r: ExperimentResults): string {
  const s = r.summary;
  const own = s.asr.filter((x) => x.probe === null);
  const probes = s.asr.filter((x) => x.probe !== null);
  const parts: string[] = [
    renderTable(
      ['model', 'attack', 'target', 'rate', 'defense', 'domain', 'seeds', 'ASR %', '95 % CI', 'ASR all %', 'false trig. %'],
      own.map((x) => [x.role, x.attack, x.target, x.rate, x.defense, x.domain, x.seeds, pct(x.asr), ci(x.asr_ci95), pct(x.asr_all), pct(x.ftr)]),
    ),
  ];
  if (probes.length) {
    parts.push(
      'Trigger specificity (victims on near-miss or partial triggers):\n' +
        renderTable(['attack', 'control', 'rate', 'domain', 'seeds', 'ASR %', '95 % CI', 'ASR all %'], probes.map((x) => [x.attack, x.probe, x.rate, x.domain, x.seeds, pct(x.asr), ci(x.asr_ci95), pct(x.asr_all)])),
    );
  }
  if (s.asrg.length) parts.push(renderTable(['model', 'attack', 'rate', 'defense', 'user domain', 'ASR-G'], s.asrg.map((x) => [x.role, x.attack, x.rate, x.defense, x.domain, x.asrg === null ? 'n/a' : x.asrg.toFixed(3)])));
  if (s.accuracy.length) {
    parts.push(
      'Clean accuracy on held-out inputs:\n' +
        renderTable(['model', 'attack', 'rate', 'defense', 'domain', 'seeds', 'accuracy %', '95 % CI'], s.accuracy.map((x) => [x.role, x.attack, x.rate, x.defense, x.domain, x.seeds, pct(x.accuracy), ci(x.accuracy_ci95)])),
    );
  }
  if (s.detection.length) {
    const f3 = (v: number): string => v.toFixed(3);
    parts.push(
      'Detection of triggered inputs by layer consistency:\n' +
        renderTable(
          ['model', 'attack', 'rate', 'defense', 'seeds', 'AUROC', 'per seed', '95 % CI'],
          s.detection.map((x) => [x.role, x.attack, x.rate, x.defense, x.seeds, f3(x.auroc_mean), x.auroc_per_seed.map(f3).join(' '), x.auroc_seed_ci95 ? `${f3(x.auroc_seed_ci95[0])}–${f3(x.auroc_seed_ci95[1])}` : '']),
        ),
    );
  }
  return parts.join('\n\n');
}
