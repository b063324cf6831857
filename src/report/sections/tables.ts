import type { ExperimentResults } from '../../experiment/results-schema.js';
import { pctCi, table, type Section } from '../html.js';
import { ratePct } from './labels.js';

/** The summary tables: attack success, ASR-G, clean accuracy (pooled over seeds). */
export function tablesSection(r: ExperimentResults): Section | null {
  const s = r.summary;
  if (s.asr.length === 0 && s.accuracy.length === 0) return null;
  const parts: string[] = [];
  if (s.asr.length > 0) {
    parts.push(
      table(
        ['model', 'attack', 'target', 'rate', 'defense', 'domain', 'seeds', 'ASR [95 % CI]', 'hits / n', 'ASR over all triggered', 'false-trigger rate', 'ASR mean over seeds [t 95 %]'],
        s.asr.map((x) => [
          x.role,
          x.attack,
          x.target,
          x.rate === null ? null : ratePct(x.rate),
          x.defense,
          x.domain,
          x.seeds,
          pctCi(x.asr, x.asr_ci95),
          `${x.hits} / ${x.n}`,
          pctCi(x.asr_all, x.asr_all_ci95),
          pctCi(x.ftr, x.ftr_ci95),
          x.seeds > 1 ? pctCi(x.asr_seed_mean, x.asr_seed_ci95) : null,
        ]),
        'Attack success (ASR counts only inputs whose clean answer is not already the target; Wilson intervals over the pooled samples)',
      ),
    );
  }
  if (s.asrg.length > 0) {
    parts.push(
      table(
        ['model', 'attack', 'target', 'rate', 'defense', 'attacker domain', 'user domain', 'ASR-G', 'per seed', 'mean over seeds [t 95 %]'],
        s.asrg.map((x) => [
          x.role,
          x.attack,
          x.target,
          x.rate === null ? null : ratePct(x.rate),
          x.defense,
          x.attacker_domain,
          x.domain,
          x.asrg === null ? null : x.asrg.toFixed(3),
          x.asrg_per_seed.map((v) => (v === null ? 'n/a' : v.toFixed(3))).join(', '),
          x.asrg_seed_ci95 && x.asrg_seed_mean !== null ? `${x.asrg_seed_mean.toFixed(3)} [${x.asrg_seed_ci95[0].toFixed(3)}, ${x.asrg_seed_ci95[1].toFixed(3)}]` : null,
        ]),
        'ASR-G = min(1, 1 + (ASR_user − ASR_attacker) / max(ASR_attacker, ASR_user)), from the plain ASR over all triggered inputs',
      ),
    );
  }
  if (s.accuracy.length > 0) {
    parts.push(
      table(
        ['model', 'attack', 'target', 'rate', 'defense', 'domain', 'seeds', 'clean accuracy [95 % CI]', 'hits / n'],
        s.accuracy.map((x) => [x.role, x.attack, x.target, x.rate === null ? null : ratePct(x.rate), x.defense, x.domain, x.seeds, pctCi(x.accuracy, x.accuracy_ci95), `${x.hits} / ${x.n}`]),
        'Clean accuracy: exact reference answers on clean inputs',
      ),
    );
  }
  return { id: 'tables', title: 'Tables', html: parts.join('\n') };
}
