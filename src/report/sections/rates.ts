import type { ExperimentResults } from '../../experiment/results-schema.js';
import { figure, lines } from '../charts.js';
import type { Section } from '../html.js';
import { attackLabel } from './labels.js';

/** ASR against the poisoning rate, per attack and domain (victims before any defense). */
export async function ratesSection(r: ExperimentResults): Promise<Section | null> {
  const rows = r.summary.asr.filter((x) => x.role === 'victim' && x.rate !== null);
  if (new Set(rows.map((x) => x.rate)).size < 2) return null;
  const v = { targets: new Set(rows.map((x) => x.target)).size > 1, rates: false };
  const values = rows.map((x) => ({
    rate: (x.rate as number) * 100,
    asr: x.asr,
    lo: x.asr_ci95[0],
    hi: x.asr_ci95[1],
    attack: attackLabel(x, v),
    domain: x.domain,
  }));
  const html = await figure(
    'asr-vs-rate',
    'ASR (clean-conditioned, pooled over seeds) against the share of the training set poisoned; whiskers are Wilson 95 % intervals.',
    lines(values, { x: 'rate', xTitle: 'poisoning rate (% of training samples)', y: 'asr', yTitle: 'ASR (%)', series: 'attack', seriesTitle: 'attack', lo: 'lo', hi: 'hi', column: 'domain', columnTitle: 'domain', points: true, yZero: true }),
  );
  return { id: 'rates', title: 'Attack success against poisoning rate', html };
}
