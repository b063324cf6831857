import type { ExperimentResults } from '../../experiment/results-schema.js';
import { figure, heatmap } from '../charts.js';
import type { Section } from '../html.js';
import { attackLabel, varying } from './labels.js';

/** ASR-G of every attack (victims, before any defense) in every user domain, as a heat map. */
export async function asrgSection(r: ExperimentResults): Promise<Section | null> {
  const rows = r.summary.asrg.filter((x) => x.role === 'victim');
  if (rows.length === 0) return null;
  const v = varying(rows);
  const values = rows.map((x) => ({
    attack: attackLabel(x, v),
    domain: x.domain,
    asrg: x.asrg,
    text: x.asrg === null ? 'n/a' : x.asrg_seed_ci95 ? `${x.asrg.toFixed(2)} ±${((x.asrg_seed_ci95[1] - x.asrg_seed_ci95[0]) / 2).toFixed(2)}` : x.asrg.toFixed(2),
  }));
  const attacker = rows[0]!.attacker_domain;
  const html = await figure(
    'asrg-heatmap',
    `ASR-G per attack and user domain (1: the backdoor fires as often as in the attacker's domain "${attacker}"; 0: not at all). Values from the plain ASR pooled over seeds; ± is the half-width of the t interval over seeds where there are several.`,
    heatmap(values, { x: 'domain', xTitle: 'user domain (shift)', y: 'attack', yTitle: 'attack', value: 'asrg', valueTitle: 'ASR-G', domain: [0, 1], label: 'text' }),
  );
  return { id: 'asrg', title: 'Generalisation across domains (ASR-G)', html };
}
