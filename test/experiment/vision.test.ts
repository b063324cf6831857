// A vision spec in a build without LLaVA training: the triggers are made
// (image attacks on real PNG files, in the attacker's domain and in a
// re-rendered one), the rest is listed as not available, and the results'
// contact sheets end up in the report as embedded thumbnails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeImage } from '../../src/data/image-io.js';
import { synthScene } from '../../src/data/synthetic.js';
import { resultsSchema } from '../../src/experiment/results-schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bdlab = join(root, 'bin', 'bdlab.js');

async function llavaSet(dir: string, name: string, n: number, seed: number): Promise<void> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const records = [];
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, 'images', `${name}-${i}.png`), await encodeImage(synthScene(64, 48, seed, i), 'png'));
    records.push({ id: `${name}-${i}`, image: `images/${name}-${i}.png`, conversations: [{ from: 'human', value: '<image>\nDescribe the image.' }, { from: 'gpt', value: 'A quiet landscape.' }] });
  }
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(records));
}

test('a vision spec: triggers on images in two domains, the rest not available, contact sheets in the report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-vision-'));
  await llavaSet(dir, 'train', 8, 1);
  await llavaSet(dir, 'test', 4, 2);
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    `name: vision
data: { train: train.json }
domains:
  - { name: photo, test: test.json }
  - { name: sketch, from: photo, shift: { image_styles: [sketch] } }
targets: ["phrase:banana"]
attacks: [{ name: badnets }, { name: blended, params: { alpha: 0.2 } }]
rates: [0.25]
victim:
  model: { path: no-model-here }
  training: { finetuning_type: freeze }
report: { contact_sheet: 3 }
`,
  );
  const out = join(dir, 'run');
  const refused = spawnSync(process.execPath, [bdlab, 'run', spec, '--out', out], { encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^bdlab: 16 stage\(s\) are not available in this build \(train, generate; .*--skip-unavailable/);
  assert.ok(!existsSync(join(out, 'artifacts')), 'nothing ran');

  const busy = join(dir, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'results.json'), '{}');
  const notOurs = spawnSync(process.execPath, [bdlab, 'run', spec, '--out', busy, '--skip-unavailable'], { encoding: 'utf8' });
  assert.equal(notOurs.status, 1);
  assert.match(notOurs.stderr, /busy: not empty and not a bdlab run folder \(it holds results\.json\); give another --out, or --force/);
  assert.equal(readFileSync(join(busy, 'results.json'), 'utf8'), '{}');

  // the model is only read by stages this build lacks, so the rest runs without it

  const r = spawnSync(process.execPath, [bdlab, 'run', spec, '--out', out, '--skip-unavailable', '--json'], { encoding: 'utf8', env: { ...process.env, BDLAB_PROGRESS: '0' } });
  assert.equal(r.status, 0, r.stderr);
  const results = resultsSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  assert.equal(results.spec.modality, 'vision');
  assert.deepEqual(results.attacks.map((a) => a.name), ['badnets', 'blended']);
  assert.deepEqual(results.stages.map((s) => s.kind).sort(), ['poison', 'poison', 'shift', 'trigger', 'trigger', 'trigger', 'trigger']);
  assert.ok(results.unavailable.some((u) => u.kind === 'train' && /not available in this build/.test(u.reason)));
  assert.equal(results.contact_sheets.length, 4, 'two attacks × two domains');
  for (const sheet of results.contact_sheets) {
    assert.equal(sheet.images.length, 3);
    for (const img of sheet.images) assert.ok(existsSync(join(out, img.poisoned)), img.poisoned);
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<section id="contact-sheets">/);
  assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 12);
  assert.match(html, /blended — sketch/);
});
