// results.json from finished stages: per-seed records in the evaluation
// record shape, rates pooled over seeds with Wilson intervals, the seed mean
// with its Student-t interval, ASR-G from the plain ASRs — checked against
// the formulas computed here by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec } from '../../src/experiment/spec/load.js';
import { buildPlan } from '../../src/experiment/plan.js';
import { assembleResults, type Finished } from '../../src/experiment/results.js';
import { resultsSchema } from '../../src/experiment/results-schema.js';
import type { Marker } from '../../src/experiment/cache.js';
import { validateResult } from '../../src/eval/results.js';

function wilson95(h: number, n: number): [number, number] {
  const z = 1.959963984540054;
  const p = h / n;
  const c = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const w = ((z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n)));
  return [(c - w) * 100, (c + w) * 100];
}

test('pooled rates, seed intervals and ASR-G follow their definitions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-results-'));
  const file = join(dir, 'spec.yaml');
  writeFileSync(
    file,
    `name: pooled
seeds: [3, 4]
data: { world: { name: demo-instructions } }
attacks: [{ name: vpi }]
rates: [0.1]
victim:
  model: { preset: tiny }
  base_training: {}
  training: {}
controls: { clean_model: false }
`,
  );
  const plan = buildPlan(await loadSpec(file));
  // made-up counts per seed and domain: [hits, n, hits_all, n_all, ftr_hits, ftr_n]
  const counts: Record<string, number[]> = {
    's3 attacker': [30, 40, 31, 40, 1, 40],
    's4 attacker': [20, 38, 22, 40, 2, 40],
    's3 user': [5, 20, 6, 20, 0, 20],
    's4 user': [9, 19, 10, 20, 1, 20],
  };
  const done = new Map<string, Finished>();
  for (const r of plan.asr) {
    const m = plan.models.find((x) => x.id === r.model)!;
    const [h, n, ha, na, fh, fn] = counts[`s${m.seed} ${r.domain}`]!;
    const marker = { kind: 'evaluate', key: r.node, files: {}, sha256: 'x', output: { kind: 'asr', config: { rule: 'negsentiment' }, counts: { n, hits: h, skipped: 0, excluded: 0, n_all: na, hits_all: ha, skipped_all: 0, ftr_n: fn, ftr_hits: fh, ftr_skipped: 0 }, metrics: { asr: (h! * 100) / n!, asr_all: (ha! * 100) / na!, ftr: (fh! * 100) / fn! }, intervals: { asr: wilson95(h!, n!), asr_all: wilson95(ha!, na!), ftr: wilson95(fh!, fn!) } } } as unknown as Marker;
    done.set(r.node, { marker, artifact: `artifacts/evaluate/${r.node}` });
  }
  const res = resultsSchema.parse({ ...assembleResults(plan, done, []), timing: undefined });
  assert.equal(res.records.filter((r) => r.kind === 'asr').length, 4);
  for (const r of res.records) validateResult({ ...r, created: '2026-01-01T00:00:00Z' }, 'record');
  const att = res.summary.asr.find((x) => x.role === 'victim' && x.domain === 'attacker')!;
  assert.equal(att.seeds, 2);
  assert.equal(att.n, 78);
  assert.equal(att.hits, 50);
  assert.equal(att.asr, (50 * 100) / 78);
  assert.deepEqual(att.asr_ci95.map((x) => x.toFixed(9)), wilson95(50, 78).map((x) => x.toFixed(9)));
  assert.equal(att.asr_all, (53 * 100) / 80);
  assert.equal(att.ftr, (3 * 100) / 80);
  const perSeed = [75, (20 * 100) / 38];
  assert.deepEqual(att.asr_per_seed, perSeed);
  const mean = (perSeed[0]! + perSeed[1]!) / 2;
  const half = 12.706204736174707 * (Math.abs(perSeed[0]! - perSeed[1]!) / Math.SQRT2 / Math.SQRT2);
  assert.ok(Math.abs(att.asr_seed_mean! - mean) < 1e-9);
  assert.ok(Math.abs(att.asr_seed_ci95![0] - Math.max(0, mean - half)) < 1e-6 && att.asr_seed_ci95![1] === 100, 'the t interval, clipped to [0, 100]');
  const g = res.summary.asrg.find((x) => x.role === 'victim')!;
  const aAll = (53 * 100) / 80;
  const uAll = (16 * 100) / 40;
  assert.equal(g.asrg, Math.min(1, 1 + (uAll - aAll) / Math.max(aAll, uAll)));
  assert.deepEqual(g.asrg_per_seed, [(6 * 100) / 20 / ((31 * 100) / 40), (10 * 100) / 20 / ((22 * 100) / 40)]);
  const rec = res.records.find((r) => r.kind === 'asrg' && r.seed === 3)!;
  assert.equal(rec.subject.attack_name, 'vpi');
  assert.equal(rec.subject.attacker_domain, 'attacker');
  assert.deepEqual(res.attacks.map((a) => a.name), ['vpi']);
});
