import type { ExperimentResults } from '../../experiment/results-schema.js';
import { figure, groupedBars } from '../charts.js';
import type { Section } from '../html.js';
import { attackLabel, varying } from './labels.js';

/** ASR of each victim before and after each defense, with intervals. */
export async function defensesSection(r: ExperimentResults): Promise<Section | null> {
  const defended = r.summary.asr.filter((x) => x.role === 'defended');
  if (defended.length === 0) return null;
  // each victim that was defended, beside its defended versions
  const same = (a: (typeof defended)[number], b: (typeof defended)[number]): boolean => a.attack === b.attack && a.target === b.target && a.rate === b.rate && a.domain === b.domain;
  const victims = r.summary.asr.filter((x) => x.role === 'victim' && defended.some((d) => same(d, x)));
  const rows = [...victims, ...defended];
  const v = varying(rows);
  const values = rows.map((x) => ({
    defense: x.defense ?? 'none (victim)',
    attack: attackLabel(x, v),
    asr: x.asr,
    lo: x.asr_ci95[0],
    hi: x.asr_ci95[1],
    domain: x.domain,
  }));
  const html = await figure(
    'defenses',
    'ASR (clean-conditioned, pooled over seeds) of every victim before ("none") and after each defense, in every domain; whiskers are Wilson 95 % intervals.',
    groupedBars(values, { category: 'defense', categoryTitle: 'defense', series: 'attack', seriesTitle: 'attack', value: 'asr', valueTitle: 'ASR (%)', lo: 'lo', hi: 'hi', column: 'domain', columnTitle: 'domain', domain: [0, 100] }),
  );
  return { id: 'defenses', title: 'Defenses: attack success before and after', html };
}
