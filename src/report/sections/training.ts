import type { ExperimentResults } from '../../experiment/results-schema.js';
import { downsample, figure, lines } from '../charts.js';
import type { Section } from '../html.js';
import { modelLabel, varying } from './labels.js';

/** Training loss per optimiser step of every trained model (clean bases and victims). */
export async function trainingSection(r: ExperimentResults): Promise<Section | null> {
  if (r.training.length === 0) return null;
  const v = varying(r.training);
  const seeds = new Set(r.training.map((t) => t.seed)).size > 1;
  let thinned = false;
  const values = r.training.flatMap((t) => {
    const pts = downsample(t.losses);
    if (pts.length < t.losses.length) thinned = true;
    const model = `${modelLabel(t, v)}${seeds ? `, seed ${t.seed}` : ''}`;
    return pts.map((p) => ({ step: p.step, loss: p.value, model, stage: t.role === 'clean' ? 'clean base' : 'victim' }));
  });
  const html = await figure(
    'training-loss',
    `Training loss (mean cross-entropy of the answer tokens) per optimiser step${thinned ? '; long runs are shown as means over equal blocks of steps' : ''}.`,
    lines(values, { x: 'step', xTitle: 'optimiser step', y: 'loss', yTitle: 'training loss', series: 'model', seriesTitle: 'model', column: 'stage', columnTitle: 'training', yZero: true, independentX: true }),
  );
  return { id: 'training', title: 'Training loss', html };
}
