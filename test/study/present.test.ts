// The LVLM study for people: terminal tables and the HTML report from a real
// (smoke-scale) study folder, opened in headless Chromium: every chart drawn
// with axes and a legend, the contact sheets of triggered images load, no
// console error, nothing fetched. Page and screenshot are kept in
// test-artifacts/study/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readStudyRecord, renderStudyReport, studyTables } from '../../src/study/lvlm/present.js';
import { findChromium, inspectPage } from '../report/chromium.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const chromium = findChromium();

const PROBE = `(() => ({
  charts: [...document.querySelectorAll('figure.chart')].map((f) => {
    const svg = f.querySelector('svg');
    return { name: f.dataset.chart, marks: svg ? svg.querySelectorAll('g.role-mark > *').length : 0, axes: svg ? svg.querySelectorAll('g.role-axis').length : 0, legends: svg ? svg.querySelectorAll('g.role-legend').length : 0 };
  }),
  images: [...document.images].map((i) => ({ complete: i.complete, width: i.naturalWidth })),
  sections: [...document.querySelectorAll('section')].map((s) => s.id),
}))()`;

test('the study report: tables, charts and contact sheets from a study folder; a file of another kind is refused in one line', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'bdlab-study-report-')), 'study');
  const r = spawnSync(process.execPath, [join(root, 'bin', 'bdlab.js'), 'study', 'lvlm', '--scale', 'smoke', '--out', out], { encoding: 'utf8', env: { ...process.env, BDLAB_PROGRESS: '0' } });
  assert.equal(r.status, 0, r.stderr);
  const record = readStudyRecord(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), 'results.json');
  const tables = studyTables(record);
  for (const head of ['CIDEr-D', 'false trig. %', 'ASR-G', 'other_pattern']) assert.ok(tables.includes(head), head);
  const html = await renderStudyReport(record, out);
  for (const id of ['base', 'asr', 'asrg', 'controls', 'contact-sheets']) assert.match(html, new RegExp(`<section id="${id}">`), id);
  assert.throws(() => readStudyRecord({ kind: 'asr' }, 'other.json'), /^UserError: other\.json: not an LVLM study results file \(kind: /);

  if (!chromium) return t.skip("Chromium not found (bash scripts/setup.sh installs Debian's chromium)");
  const artifacts = join(root, 'test-artifacts', 'study');
  mkdirSync(artifacts, { recursive: true });
  const page = join(artifacts, 'report.html');
  writeFileSync(page, html);
  const shown = await inspectPage(chromium, page, PROBE);
  writeFileSync(join(artifacts, 'report.png'), shown.screenshot);
  assert.deepEqual(shown.errors, [], 'no console errors');
  assert.deepEqual(shown.requests.filter((u) => u !== pathToFileURL(page).href && !u.startsWith('data:')), [], 'nothing fetched');
  const p = shown.value as { charts: Array<{ name: string; marks: number; axes: number; legends: number }>; images: Array<{ complete: boolean; width: number }> };
  assert.deepEqual(p.charts.map((c) => c.name), ['study-asr', 'study-asrg']);
  for (const c of p.charts) assert.ok(c.marks > 0 && c.axes >= 2 && c.legends >= 1, `${c.name}: marks, axes and a legend`);
  assert.ok(p.images.length > 0 && p.images.every((i) => i.complete && i.width > 0), 'the triggered images load');
});
