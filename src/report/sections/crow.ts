import type { ExperimentResults } from '../../experiment/results-schema.js';
import { figure, lines } from '../charts.js';
import type { Section } from '../html.js';
import { ratePct } from './labels.js';

/**
 * The CROW figure: cosine similarity of consecutive hidden states, layer by
 * layer, on clean and triggered inputs — for the clean model, the backdoored
 * victim and the victim after each defense (first seed; one chart per attack).
 */
export async function crowSection(r: ExperimentResults): Promise<Section | null> {
  const profiles = r.layer_consistency;
  if (profiles.length === 0) return null;
  const seed = profiles[0]!.seed;
  const groups = new Map<string, typeof profiles>();
  for (const p of profiles.filter((x) => x.seed === seed && x.role !== 'clean')) {
    const key = JSON.stringify([p.attack, p.target, p.rate]);
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const parts: string[] = [];
  let i = 0;
  for (const [key, ps] of groups) {
    const [attack, target, rate] = JSON.parse(key) as [string, string | null, number | null];
    // the clean model's profile on this attack's triggered inputs, then the victim, then each defense
    const clean = profiles.filter((x) => x.seed === seed && x.role === 'clean' && x.attack === attack);
    const stage = (p: (typeof profiles)[number]): string => (p.role === 'clean' ? 'clean model' : p.role === 'victim' ? 'backdoored (before)' : `after ${p.defense}`);
    const shown = [...clean, ...ps.filter((x) => x.role === 'victim'), ...ps.filter((x) => x.role === 'defended')];
    const values = shown.flatMap((p) => [
      ...p.clean.map((c, l) => ({ layer: l, cosine: c, input: 'clean', model: stage(p) })),
      ...p.triggered.map((c, l) => ({ layer: l, cosine: c, input: 'triggered', model: stage(p) })),
    ]);
    if (values.length === 0) continue;
    const n = ps[0]!.n;
    parts.push(
      await figure(
        `crow-${i++}`,
        `${attack}${target ? ` → ${target}` : ''}${rate !== null ? ` @ ${ratePct(rate)}` : ''}: mean cosine of hidden states h_l and h_(l+1) over ${n} prompts (seed ${seed}); pair 0 is the embeddings and the first block, the last pair ends at the final norm.`,
        lines(values, { x: 'layer', xTitle: 'layer pair l → l+1', y: 'cosine', yTitle: 'cosine similarity', series: 'input', seriesTitle: 'input', column: 'model', columnTitle: 'model', points: true, xType: 'ordinal', width: 220, columnOrder: [...new Set(shown.map(stage))] }),
      ),
    );
  }
  if (parts.length === 0) return null;
  return { id: 'crow', title: 'Layer consistency (the CROW figure)', html: parts.join('\n') };
}
