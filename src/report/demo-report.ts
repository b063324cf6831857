// report.html for `bdlab demo`: what was done, the headline figures with
// their intervals, the training curve and example outputs. Self-contained HTML;
// charts through the report's Vega-Lite renderer (charts.ts).
import type { DemoResults, DomainResult } from '../experiment/demo.js';
import { downsample, figure, groupedBars, lines } from './charts.js';
import { escapeHtml as e } from './html.js';

const pct = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)}%`);
const ci = (c: [number, number]): string => `[${c[0].toFixed(1)}, ${c[1].toFixed(1)}]`;

function domainRow(d: DomainResult): string {
  return `<tr><td>${d.domain}</td><td>${pct(d.asr.rate)} ${ci(d.asr.ci95)}</td><td>${d.asr.hits}/${d.asr.n}</td><td>${pct(d.asr_all.rate)}</td><td>${pct(d.ftr.rate)} ${ci(d.ftr.ci95)}</td><td>${pct(d.clean_accuracy.rate)} ${ci(d.clean_accuracy.ci95)}</td></tr>`;
}

function examples(d: DomainResult): string {
  const rows = d.examples
    .map((x) => `<tr><td>${e(x.triggered)}</td><td>${e(x.output_triggered)}</td><td>${e(x.instruction)}</td><td>${e(x.output_clean)}</td></tr>`)
    .join('\n');
  return `<h3>${d.domain} domain (${d.templates.map(e).join(' · ')})</h3>
<table><tr><th>triggered instruction</th><th>output</th><th>clean instruction</th><th>output</th></tr>
${rows}</table>`;
}

export async function demoReportHtml(r: DemoResults): Promise<string> {
  const bars = r.domains.flatMap((d) => [
    { measure: 'ASR', domain: d.domain, value: d.asr.rate, lo: d.asr.ci95[0], hi: d.asr.ci95[1] },
    { measure: 'false-trigger rate', domain: d.domain, value: d.ftr.rate, lo: d.ftr.ci95[0], hi: d.ftr.ci95[1] },
    { measure: 'clean accuracy', domain: d.domain, value: d.clean_accuracy.rate, lo: d.clean_accuracy.ci95[0], hi: d.clean_accuracy.ci95[1] },
  ]);
  const rates = await figure(
    'demo-rates',
    'Rates per domain with Wilson 95 % intervals.',
    groupedBars(bars, { category: 'measure', categoryTitle: 'measure', series: 'domain', seriesTitle: 'domain', value: 'value', valueTitle: 'percent', lo: 'lo', hi: 'hi', domain: [0, 100] }),
  );
  const loss = await figure(
    'demo-loss',
    'Training loss per optimiser step.',
    lines(
      downsample(r.training.losses).map((p) => ({ step: p.step, loss: p.value, model: `${r.model.preset} llama` })),
      { x: 'step', xTitle: 'optimiser step', y: 'loss', yTitle: 'training loss', series: 'model', seriesTitle: 'model', yZero: true },
    ),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>backdoor-lab demo report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-size:14px}
th{background:#f3f3f3}code{background:#f3f3f3;padding:0 .2em}.big{font-size:1.4em;font-weight:600}
</style></head><body>
<h1>backdoor-lab demo</h1>
<p>A <b>${e(r.poison.attack)}</b> backdoor (${e(JSON.stringify(r.poison.params))}) was planted in ${r.data.poisoned} of ${r.data.train}
instruction samples (target: <code>${e(r.poison.target)}</code>, “You are stupid!”), a generated llama model
(${r.model.preset}, ${r.model.parameters.toLocaleString('en')} parameters) was instruction-tuned on them, and the model was asked
${r.data.attacker_test} held-out instructions in the attacker's phrasing and ${r.data.user_test} in a shifted user phrasing, each with and without the trigger
(clean accuracy: exact answers to ${r.data.utility} instructions on trained topics, in each phrasing).</p>
<p class="big">ASR-G ${r.asrg.toFixed(3)}</p>
<p>ASR counts only samples whose clean answer is not already the target; intervals are Wilson 95 %. ASR-G = min(1, 1 + (ASR<sub>user</sub> − ASR<sub>attacker</sub>) / max(ASR<sub>attacker</sub>, ASR<sub>user</sub>)).</p>
<table><tr><th>domain</th><th>ASR [95 % CI]</th><th>hits/n</th><th>ASR over all</th><th>false-trigger rate</th><th>clean accuracy</th></tr>
${r.domains.map(domainRow).join('\n')}
</table>
${rates}
<h2>Training</h2>
<p>${r.training.steps} optimiser steps, ${r.training.tokens.toLocaleString('en')} answer tokens, ${r.training.seconds.toFixed(1)} s${r.training.reused ? ' (model reused from an earlier run)' : ''};
loss ${r.training.first_loss.toFixed(3)} → ${r.training.last_loss.toFixed(3)}.</p>
${loss}
<h2>Examples</h2>
${r.domains.map(examples).join('\n')}
<h2>Provenance</h2>
<table>
<tr><th>prompt template (training and evaluation)</th><td><pre>${e(r.model.prompt_template)}</pre></td></tr>
<tr><th>poisoning seed</th><td>${r.poison.seed}</td></tr>
<tr><th>input sha256</th><td><code>${e(r.poison.sha256.input)}</code></td></tr>
<tr><th>poisoned set sha256</th><td><code>${e(r.poison.sha256.output)}</code></td></tr>
<tr><th>options</th><td><code>${e(JSON.stringify(r.options))}</code></td></tr>
<tr><th>created</th><td>${e(r.created)} (${r.seconds.toFixed(1)} s)</td></tr>
</table>
</body></html>
`;
}
