import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { poison, scanForPoison, selectForPoison, writePoisoned, type Manifest, type PoisonOptions } from '../../src/attacks/poisoner.js';
import { selectRecords } from '../../src/attacks/selection.js';
import { createAttack } from '../../src/attacks/index.js';
import { parseTarget } from '../../src/attacks/targets.js';
import { rewriteDataset } from '../../src/data/dataset.js';
import { scanDataset } from '../../src/data/scan.js';
import { OutputDir } from '../../src/data/output-dir.js';
import { tmp } from './helpers.js';
import { alpacaSet } from '../hostile/poison-helpers.js';

const opts = (input: string, out: string): PoisonOptions => ({
  input,
  out,
  attack: createAttack('ctba', {}, 4),
  target: parseTarget('negsentiment'),
  seed: 4,
  selection: { count: 6 },
  negatives: { count: 3 },
  test: { count: 5 },
  backdoorllm: { task: 'negsentiment' },
});

test('poison() is scan → select → write: the stages run one by one give the same bytes', async () => {
  const dir = tmp();
  const input = alpacaSet(dir, 40);
  const whole = await poison(opts(input, join(dir, 'a')));
  const o = opts(input, join(dir, 'b'));
  const { scan, candidates } = await scanForPoison(o);
  assert.equal(scan.records, 40);
  assert.equal(scan.valid.length, 40);
  assert.equal(candidates.eligible.length, 40);
  const sel = selectForPoison(o, scan, candidates);
  assert.deepEqual([sel.test.size, sel.poisoned.size, sel.negatives.size, sel.clean?.size], [5, 6, 3, 6]);
  for (const i of sel.poisoned) assert.ok(!sel.test.has(i) && !sel.negatives.has(i) && !sel.clean?.has(i));
  const staged = await writePoisoned(o, scan, sel);
  const files = readdirSync(join(dir, 'a')).sort();
  assert.deepEqual(files, readdirSync(join(dir, 'b')).sort());
  assert.deepEqual(files, ['backdoor6_negsentiment_ctba.json', 'data.json', 'manifest.json', 'none_backdoor6_negsentiment_ctba.json', 'test_clean.json', 'test_poisoned.json']);
  for (const f of files) assert.ok(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'b', f))), f);
  assert.deepEqual(staged.manifest, whole.manifest);
  // outputs are named, and the manifest hashes them by the same names
  assert.deepEqual(Object.keys(whole.manifest.files), ['data', 'test_clean', 'test_poisoned', 'backdoor', 'none_backdoor']);
  assert.deepEqual(Object.keys(whole.manifest.sha256).sort(), ['backdoor', 'input', 'none_backdoor', 'output', 'test_clean', 'test_poisoned']);
});

test('selectRecords: seeded, disjoint, and named in its refusals', () => {
  const valid = Int32Array.from({ length: 30 }, (_, i) => i);
  const base = { seed: 1, valid, eligible: valid.filter((i) => i % 2 === 0), negEligible: valid, selection: { count: 5 }, defaultNegativeRate: 1, canNegate: true, whyIneligible: 'odd records are refused', attackName: 'x' };
  const a = selectRecords(base);
  assert.deepEqual(a, selectRecords(base));
  assert.ok([...a.poisoned].every((i) => i % 2 === 0));
  assert.equal(a.negatives.size, 5, 'the default rate: one negative per poisoned record');
  assert.ok([...a.negatives].every((i) => !a.poisoned.has(i)));
  assert.throws(() => selectRecords({ ...base, selection: { count: 16 } }), /only 15 of 30 can be: odd records are refused/);
  assert.throws(() => selectRecords({ ...base, selection: { count: 31 } }), /asked to poison 31 records but there are only 30 records/);
  assert.throws(() => selectRecords({ ...base, canNegate: false }), /attack x makes no negative samples/);
});

test('the scan and write stages are the same for shift: a transform with named outputs over a scanned file', async () => {
  const dir = tmp();
  const input = alpacaSet(dir, 6);
  const scan = await scanDataset({ input });
  assert.deepEqual([...scan.valid], [0, 1, 2, 3, 4, 5]);
  const out = OutputDir.open({ path: join(dir, 'o'), force: false, input });
  const shas = await rewriteDataset({
    input,
    format: scan.format,
    outputs: { even: out.stream('even.json'), all: out.stream('all.json') },
    skipped: scan.skipKeys,
    transform: (s) => (s.index % 2 === 0 ? { even: { ...s, output: 'changed' }, all: s } : { all: s }),
  });
  out.commit({ tool: 'backdoor-lab test', files: { even: 'even.json', all: 'all.json' } } satisfies Partial<Manifest>);
  assert.deepEqual(Object.keys(shas).sort(), ['all', 'even']);
  const even = JSON.parse(readFileSync(join(dir, 'o', 'even.json'), 'utf8')) as { output: string }[];
  assert.deepEqual(even.map((r) => r.output), ['changed', 'changed', 'changed']);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'o', 'all.json'), 'utf8')), JSON.parse(readFileSync(input, 'utf8')));
  assert.deepEqual(readdirSync(join(dir, 'o')).sort(), ['all.json', 'even.json', 'manifest.json']);
});

test('OutputDir.fresh: files of one folder get the checked folder; a name that could leave it is checked in full', () => {
  const dir = tmp();
  const input = alpacaSet(dir, 1);
  const out = OutputDir.open({ path: join(dir, 'o'), force: false, input });
  const root = out.root;
  assert.deepEqual(out.fresh('images/p/1-a.jpg'), { path: join(root, 'images', 'p', '1-a.jpg'), tmp: null });
  assert.deepEqual(out.fresh('images/p/2-b c.jpg'), { path: join(root, 'images', 'p', '2-b c.jpg'), tmp: null });
  assert.deepEqual(out.fresh('images/q/3.png'), { path: join(root, 'images', 'q', '3.png'), tmp: null });
  assert.throws(() => out.fresh('images/p/..'), /only for files below a folder of the run/);
  assert.throws(() => out.fresh('images/p/../../../x.jpg'), /leaves the output folder/);
  assert.throws(() => out.fresh('x.jpg'), /only for files below a folder of the run/);
  out.abort();
});
