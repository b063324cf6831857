// The report opened in headless Chromium (Debian's `chromium`): every chart is
// an SVG with marks, axes and a legend, every image loads, the console shows
// no error, and the page requests nothing but itself. The page and a
// full-page screenshot are kept in test-artifacts/report/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readResults, renderReport } from '../../src/report/report.js';
import type { ExperimentResults } from '../../src/experiment/results-schema.js';
import { findChromium, inspectPage } from './chromium.js';
import { writeFixture } from './fixture.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const artifacts = join(root, 'test-artifacts', 'report');
const chromium = findChromium();

const PROBE = `(() => ({
  charts: [...document.querySelectorAll('figure.chart')].map((f) => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    return {
      name: f.dataset.chart,
      svg: !!svg,
      marks: svg ? svg.querySelectorAll('g.role-mark > *').length : 0,
      axes: svg ? svg.querySelectorAll('g.role-axis').length : 0,
      legends: svg ? svg.querySelectorAll('g.role-legend').length : 0,
      width: box.width,
      height: box.height,
    };
  }),
  images: [...document.images].map((i) => ({ complete: i.complete, width: i.naturalWidth })),
  sections: [...document.querySelectorAll('section')].map((s) => s.id),
}))()`;

interface Probe {
  charts: Array<{ name: string; svg: boolean; marks: number; axes: number; legends: number; width: number; height: number }>;
  images: Array<{ complete: boolean; width: number }>;
  sections: string[];
}

test('the report renders in headless Chromium: every chart drawn, no console errors, nothing fetched', { skip: chromium ? false : 'Chromium not found (bash scripts/setup.sh installs Debian\'s chromium; or set BDLAB_CHROMIUM)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-chromium-report-'));
  const results = readResults(await writeFixture(dir));
  const html = await renderReport(results.results as ExperimentResults, { baseDir: dir });
  mkdirSync(artifacts, { recursive: true });
  const page = join(artifacts, 'report.html');
  writeFileSync(page, html);
  const r = await inspectPage(chromium as string, page, PROBE);
  writeFileSync(join(artifacts, 'report.png'), r.screenshot);
  assert.deepEqual(r.errors, [], 'no console errors');
  const self = pathToFileURL(page).href;
  assert.deepEqual(r.requests.filter((u) => u !== self && !u.startsWith('data:')), [], 'no request but the page itself');
  const p = r.value as Probe;
  assert.deepEqual(p.sections, ['tables', 'asrg', 'rates', 'defenses', 'crow', 'training', 'contact-sheets', 'provenance']);
  assert.equal(p.charts.length, 5);
  for (const c of p.charts) {
    assert.ok(c.svg && c.marks > 0, `${c.name}: SVG with marks`);
    assert.ok(c.axes >= 2 && c.legends >= 1, `${c.name}: axes and a legend`);
    assert.ok(c.width > 50 && c.height > 50, `${c.name}: laid out (${c.width}×${c.height})`);
  }
  assert.equal(p.images.length, 3);
  assert.ok(p.images.every((i) => i.complete && i.width > 0), 'every embedded image decodes');
  assert.ok(r.screenshot.length > 10_000 && r.screenshot.subarray(1, 4).toString() === 'PNG');
});
