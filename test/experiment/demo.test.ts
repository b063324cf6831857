// `bdlab demo` end to end through the CLI (short training): the contract's files,
// parseable results with consistent counts, and reuse of the trained model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoResults } from '../../src/experiment/demo.js';
import { asrg } from '../../src/eval/asrg.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('bdlab demo writes results.json and report.html, and reuses its model', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bdlab-demo-')), 'run');
  const run = (): DemoResults => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'bdlab.js'), 'demo', '--out', out, '--epochs', '2', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'exactly one JSON object on stdout');
    return JSON.parse(lines[0] as string) as DemoResults;
  };
  const first = run();
  assert.ok(existsSync(join(out, 'report.html')));
  const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as DemoResults;
  assert.deepEqual(saved.domains, first.domains);
  assert.equal(first.schema, 'backdoor-lab/demo');
  assert.equal(first.data.poisoned, Math.round(0.1 * first.data.train));
  assert.equal(first.training.reused, false);
  assert.equal(first.training.steps, 2 * Math.ceil(first.data.train / 8));
  const sizes = { attacker: first.data.attacker_test, user: first.data.user_test };
  for (const d of first.domains) {
    assert.equal(d.asr_all.n + d.asr_all.skipped, sizes[d.domain], `${d.domain}: every triggered sample is scored or skipped`);
    assert.ok(d.asr.n <= d.asr_all.n, 'clean-conditioned ASR counts a subset');
    assert.equal(d.ftr.n + d.ftr.skipped, sizes[d.domain]);
    if (d.asr.rate !== null) assert.ok(d.asr.ci95[0] <= d.asr.rate && d.asr.rate <= d.asr.ci95[1]);
  }
  const [a, u] = first.domains;
  assert.equal(first.asrg, asrg(a?.asr.rate ?? 0, u?.asr.rate ?? 0));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /ASR-G/);
  assert.equal((html.match(/<figure class="chart"[^>]*>[\s\S]*?<svg[^>]*class="marks"/g) ?? []).length, 2, 'two vega charts');
  const rep = spawnSync(process.execPath, [join(root, 'bin', 'bdlab.js'), 'report', join(out, 'results.json'), '--out', join(out, 'again.html'), '--json'], { encoding: 'utf8' });
  assert.equal(rep.status, 0, rep.stderr);
  assert.equal((JSON.parse(rep.stdout) as { charts: number }).charts, 2, 'bdlab report renders the demo\'s results too');
  const second = run();
  assert.equal(second.training.reused, true);
  assert.deepEqual(second.domains, first.domains, 'the reused model gives the same outputs');
});
