// `bdlab demo`: its built-in LLM spec is examples/demo-llm.yaml; a reduced
// version of that spec (fewer attacks, defenses and samples, one seed) runs
// end to end through `bdlab run` with every stage kind of the LLM study —
// world, base and LoRA training, poisoning, triggers and specificity controls,
// generation, defenses, detection, layer profiles — and gives well-formed
// results and a report; the demo refuses a folder that is not its own and
// names the parts this build lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_LLM_SPEC, quickDemoSpec } from '../../src/experiment/demo-spec.js';
import type { DemoSummary } from '../../src/experiment/demo.js';
import { resultsSchema } from '../../src/experiment/results-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bdlab = join(root, 'bin', 'bdlab.js');
const env = { ...process.env, BDLAB_PROGRESS: '0' };

test('the demo\'s built-in LLM spec is examples/demo-llm.yaml', () => {
  assert.equal(DEMO_LLM_SPEC, readFileSync(join(root, 'examples', 'demo-llm.yaml'), 'utf8'));
});

test('a reduced demo spec runs every LLM stage and gives well-formed results', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-demo-ci-'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, quickDemoSpec());
  const out = join(dir, 'run');
  const r = spawnSync(process.execPath, [bdlab, 'run', spec, '--out', out, '--json'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const res = resultsSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  // every attack and defense by its registry name
  assert.deepEqual(res.attacks.map((a) => a.name), ['badnet', 'ctba']);
  assert.deepEqual(res.defenses.map((d) => d.name), ['crow', 'quantize']);
  assert.deepEqual(res.attacks.map((a) => a.probes.map((p) => `${p.name}:${p.label}`)), [['badnet:near-miss'], ['ctba:two-keys']]);
  for (const a of ['badnet', 'ctba']) {
    for (const defense of [null, 'crow', 'quantize']) {
      const row = res.summary.asr.find((x) => x.attack === a && x.defense === defense && x.role !== 'clean' && x.probe === null);
      assert.ok(row, `${a} ${defense ?? 'victim'}: an ASR row`);
      assert.equal(row.asr_all_ci95.length, 2);
      assert.ok(row.n <= 24, 'ASR over the held-out test items');
      const det = res.summary.detection.find((x) => x.attack === a && x.defense === defense);
      assert.ok(det && det.auroc_mean >= 0 && det.auroc_mean <= 1, `${a} ${defense ?? 'victim'}: detection AUROC`);
    }
    assert.ok(res.summary.asr.some((x) => x.attack === a && x.probe !== null && x.role === 'victim'), `${a}: a specificity control`);
  }
  assert.ok(res.summary.accuracy.some((x) => x.role === 'clean'), 'clean accuracy of the clean base');
  const base = res.training.find((t) => t.role === 'clean');
  assert.ok(base && base.losses.length === base.steps && base.last_loss < base.first_loss, 'the base\'s loss curve, falling');
  assert.ok(res.training.filter((t) => t.role === 'victim').length === 2);
  const consistency = res.layer_consistency.find((x) => x.role === 'defended' && x.defense === 'crow');
  assert.ok(consistency && consistency.clean.length === 4, 'the CROW figure of a defended model: a cosine per consecutive pair of the 4-layer model');
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const chart of ['defenses', 'crow-0', 'detection', 'training-loss']) assert.match(html, new RegExp(`data-chart="${chart}"`), chart);
});

test('bdlab demo refuses a folder it did not make, and names the parts this build lacks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-demo-'));
  const busy = join(dir, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'notes.txt'), 'mine');
  const refused = spawnSync(process.execPath, [bdlab, 'demo', '--out', busy, '--part', 'lvlm'], { encoding: 'utf8', env });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /not a bdlab demo folder/);
  assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line');
  // with the vision-language part in this build, `--part lvlm` would run it: that is its own test
  if (existsSync(join(root, 'dist', 'src', 'experiment', 'demo-lvlm.js'))) return;
  const out = join(dir, 'demo');
  const r = spawnSync(process.execPath, [bdlab, 'demo', '--out', out, '--part', 'lvlm', '--json'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as DemoSummary;
  assert.equal(s.schema, 'backdoor-lab/demo');
  assert.deepEqual(s.parts, []);
  const lvlm = s.missing.find((m) => m.name === 'lvlm');
  if (lvlm) assert.ok(lvlm.reason.length > 0);
  assert.ok(existsSync(join(out, 'demo.json')));
  const unknown = spawnSync(process.execPath, [bdlab, 'demo', '--out', out, '--part', 'nope'], { encoding: 'utf8', env });
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /--part: unknown nope/);
});
