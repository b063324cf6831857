// `bdlab report`: every section from a results file that has its data, none
// from one that lacks it, charts as inline SVG with axes and legends, nothing
// loaded from outside the file; malformed files are one-line errors naming
// the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, renderReport } from '../../src/report/report.js';
import { UserError } from '../../src/util/errors.js';
import { resultsSchema, type ExperimentResults } from '../../src/experiment/results-schema.js';
import { writeFixture } from './fixture.js';
import { figure, groupedBars } from '../../src/report/charts.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bdlab = join(root, 'bin', 'bdlab.js');

function report(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [bdlab, 'report', ...args], { encoding: 'utf8' });
}

test('a results file with every section gives every section, charts drawn by vega with axes and legends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-report-'));
  const path = await writeFixture(dir);
  const r = readResults(path);
  const html = await renderReport(r, { baseDir: dir });
  for (const id of ['tables', 'asrg', 'rates', 'defenses', 'crow', 'detection', 'training', 'contact-sheets', 'provenance']) assert.match(html, new RegExp(`<section id="${id}">`), id);
  const charts = [...html.matchAll(/<figure class="chart" data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)];
  assert.deepEqual(charts.map((c) => c[1]), ['asrg-heatmap', 'asr-vs-rate', 'defenses', 'crow-0', 'detection', 'training-loss']);
  for (const [, name, body] of charts) {
    assert.match(body as string, /<svg[^>]*class="marks"/, `${name}: vega SVG`);
    assert.match(body as string, /role-axis/, `${name}: axes`);
    assert.match(body as string, /role-legend/, `${name}: legend`);
    assert.match(body as string, /role-mark/, `${name}: marks`);
  }
  assert.match(html, /role-axis-title[\s\S]*?poisoning rate \(% of training samples\)/);
  assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 3, 'the three images, embedded');
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /(src|href)="(?!data:|#)/, 'no external resource');
  assert.match(html, /Content-Security-Policy/);
  assert.match(html, /not available in this build/);
});

test('sections without data are left out; the file still renders', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-report-'));
  const full = JSON.parse(readFileSync(await writeFixture(dir), 'utf8')) as ExperimentResults;
  const minimal = { schema: full.schema, version: full.version, tool: full.tool, spec: full.spec, summary: { asr: full.summary.asr.filter((x) => x.role === 'victim' && x.rate === 0.1 && x.domain === 'attacker') } };
  const path = join(dir, 'minimal.json');
  writeFileSync(path, JSON.stringify(minimal));
  const html = await renderReport(resultsSchema.parse(minimal), { baseDir: dir });
  assert.match(html, /<section id="tables">/);
  for (const id of ['asrg', 'rates', 'defenses', 'crow', 'training', 'contact-sheets']) assert.doesNotMatch(html, new RegExp(`<section id="${id}">`), id);
  const r = report([path, '--out', join(dir, 'minimal.html'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { charts: number }).charts, 0);
});

test('malformed results: one line naming the field; an existing report is kept without --force', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-report-'));
  const good = JSON.parse(readFileSync(await writeFixture(dir), 'utf8')) as Record<string, unknown> & ExperimentResults;
  const cases: Array<[string, unknown, RegExp]> = [
    ['bad-rate.json', { ...good, summary: { ...good.summary, asr: [{ ...good.summary.asr[0], asr: 'high' }] } }, /field summary\.asr\[0\]\.asr: expected number/],
    ['bad-loss.json', { ...good, training: [{ ...good.training[0], losses: [1, null] }] }, /field training\[0\]\.losses\[1\]: expected number/],
    ['no-schema.json', { ...good, schema: undefined }, /field schema: expected "backdoor-lab\/experiment-results"/],
    ['array.json', [1, 2], /field schema/],
  ];
  for (const [name, value, want] of cases) {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(value));
    assert.throws(() => readResults(p), (e: unknown) => e instanceof UserError && want.test(e.message) && !e.message.includes('\n'), name);
  }
  writeFileSync(join(dir, 'broken.json'), '{"schema": ');
  assert.throws(() => readResults(join(dir, 'broken.json')), /broken\.json: not valid JSON/);
  assert.throws(() => readResults(join(dir, 'nothing.json')), /nothing\.json: no such file/);
  const cli = report([join(dir, 'bad-rate.json'), '--out', join(dir, 'bad.html')]);
  assert.equal(cli.status, 1);
  assert.equal(cli.stderr, `bdlab: ${join(dir, 'bad-rate.json')}: field summary.asr[0].asr: expected number\n`);

  const ok = report([join(dir, 'results.json'), '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  const again = report([join(dir, 'results.json')]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /report\.html: already exists \(give --force/);
  assert.equal(report([join(dir, 'results.json'), '--force']).status, 0);
});

test("vega-lite's expected warning for faceted charts is not printed; its other messages are", async (t) => {
  const warned: string[] = [];
  t.mock.method(console, 'warn', (...args: unknown[]) => void warned.push(args.join(' ')));
  // the defense section's chart: ASR with intervals per defense and attack, one column per domain
  const rows = [
    { domain: 'attacker', defense: 'none', attack: 'badnet', asr: 40, lo: 30, hi: 50 },
    { domain: 'attacker', defense: 'crow', attack: 'badnet', asr: 5, lo: 1, hi: 12 },
    { domain: 'attacker', defense: 'none', attack: 'ctba', asr: 60, lo: 50, hi: 70 },
    { domain: 'other', defense: 'crow', attack: 'ctba', asr: 20, lo: 10, hi: 30 },
  ];
  const faceted = groupedBars(rows, { category: 'defense', categoryTitle: 'defense', series: 'attack', seriesTitle: 'attack', value: 'asr', valueTitle: 'ASR (%)', lo: 'lo', hi: 'hi', column: 'domain' });
  assert.match(await figure('faceted', 'ASR by domain', faceted), /<svg/);
  assert.equal(warned.length, 0, `a faceted chart with independent x scales: ${warned.join('; ')}`);
  // a spec mistake still shows: an encoding channel the mark cannot take
  await figure('wrong', 'a wrong spec', { data: { values: rows }, mark: 'bar', encoding: { x: { field: 'defense', type: 'nominal' }, y: { field: 'asr', type: 'quantitative' }, size: { field: 'nosuchfield', type: 'quantitative', aggregate: 'nosuchop' } } } as never).catch(() => '');
  assert.ok(warned.length > 0 && warned.every((w) => w.startsWith('WARN')), warned.join('\n'));
});
