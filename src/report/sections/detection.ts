import type { ExperimentResults } from '../../experiment/results-schema.js';
import { figure, groupedBars } from '../charts.js';
import { table, type Section } from '../html.js';
import { attackLabel, varying } from './labels.js';

/**
 * Detection of triggered inputs by their layer-consistency profile: AUROC of
 * every victim before ("none") and after each defense, mean over seeds with a
 * Student-t interval; the table gives TPR and FPR at the calibrated threshold.
 */
export async function detectionSection(r: ExperimentResults): Promise<Section | null> {
  const rows = r.summary.detection;
  if (rows.length === 0) return null;
  const v = varying(rows);
  const values = rows.map((x) => ({
    defense: x.defense ?? 'none (victim)',
    attack: attackLabel(x, v),
    auroc: x.auroc_mean,
    lo: x.auroc_seed_ci95?.[0] ?? x.auroc_mean,
    hi: x.auroc_seed_ci95?.[1] ?? x.auroc_mean,
  }));
  const chart = await figure(
    'detection',
    'AUROC of telling triggered from clean test inputs by their layer-consistency profile (0.5: chance), for every victim before ("none") and after each defense; mean over seeds, whiskers Student-t 95 % over seeds.',
    groupedBars(values, { category: 'defense', categoryTitle: 'defense', series: 'attack', seriesTitle: 'attack', value: 'auroc', valueTitle: 'AUROC', lo: 'lo', hi: 'hi', domain: [0, 1] }),
  );
  const f = (x: number): string => x.toFixed(3);
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  const perSeed = table(
    ['model', 'seed', 'AUROC', 'TPR at threshold [95 % CI]', 'FPR on clean test [95 % CI]', 'target FPR', 'clean / triggered'],
    r.detection.map((x) => [x.model, x.seed, f(x.auroc), `${pct(x.tpr)} [${pct(x.tpr_ci95[0])}, ${pct(x.tpr_ci95[1])}]`, `${pct(x.fpr)} [${pct(x.fpr_ci95[0])}, ${pct(x.fpr_ci95[1])}]`, pct(x.fpr_target), `${x.n_clean} / ${x.n_triggered}`]),
    'Per model and seed: the threshold is set on the defender\'s clean samples at the target FPR, then applied to the test inputs',
  );
  return { id: 'detection', title: 'Detection of triggered inputs (AUROC before and after)', html: `${chart}\n${perSeed}` };
}
