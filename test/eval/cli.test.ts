import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { evaluateCaptions } from '../../src/eval/caption/coco.js';
import { readResult } from '../../src/eval/results.js';
import { bdlab, tmp, writeJson } from './helpers.js';

const oneLineError = (stderr: string): string => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${stderr}`);
  assert.match(lines[0]!, /^bdlab: /);
  return lines[0]!;
};

test('eval captions: the contract keys, coco-caption values, --out record', () => {
  const d = tmp();
  const preds = [
    { image_id: 1, caption: 'A man riding a wave on a surfboard.' },
    { image_id: 2, caption: 'Two dogs play in the snow' },
    { image_id: 3, caption: 'a plate of food' },
  ];
  const anns = [
    { image_id: 1, caption: 'A surfer rides a large wave.' },
    { image_id: 1, caption: 'A man on a surfboard riding a wave.' },
    { image_id: 2, caption: 'Two dogs playing in the snow.' },
    { image_id: 2, caption: 'Dogs run through snow' },
    { image_id: 3, caption: 'A plate with food on it.' },
  ];
  const pred = writeJson(d, 'pred.json', preds);
  const refs = writeJson(d, 'refs.json', { images: [], annotations: anns });
  const out = join(d, 'result.json');
  const r = bdlab(['eval', 'captions', '--pred', pred, '--refs', refs, '--json', '--out', out, '--per-image', '--label', 'seed=7']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, number>;
  assert.deepEqual(Object.keys(j), ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr', 'ROUGE-L', 'n']);
  const lib = evaluateCaptions(
    preds.map((p) => p.caption),
    [1, 2, 3].map((id) => anns.filter((a) => a.image_id === id).map((a) => a.caption)),
  ).scores;
  assert.deepEqual(j, { ...lib });
  assert.equal(j.n, 3);
  assert.ok(j.CIDEr! > 0 && j.CIDEr! < 10, 'coco scale, not ×100');
  const rec = readResult(out);
  assert.equal(rec.kind, 'captions');
  assert.equal(rec.seed, 7);
  assert.equal(rec.metrics.CIDEr, j.CIDEr);
  assert.equal(rec.samples?.length, 3);
  assert.equal(rec.inputs[1]!.records, 5);
});

test('eval captions: malformed files fail with one line naming file, record and field', () => {
  const d = tmp();
  const refs = writeJson(d, 'refs.json', { annotations: [{ image_id: 1, caption: 'x' }] });
  const pred = writeJson(d, 'pred.json', [{ image_id: 1, caption: 'x' }, { image_id: 2, caption: 5 }]);
  const r = bdlab(['eval', 'captions', '--pred', pred, '--refs', refs, '--json']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(oneLineError(r.stderr), `bdlab: ${pred}: record 1: field "caption" must be a string, got number`);
  const badRefs = writeJson(d, 'refs2.json', { annotations: [{ image_id: 1, text: 'x' }] });
  const goodPred = writeJson(d, 'pred2.json', [{ image_id: 1, caption: 'x' }]);
  const r2 = bdlab(['eval', 'captions', '--pred', goodPred, '--refs', badRefs]);
  assert.equal(oneLineError(r2.stderr), `bdlab: ${badRefs}: annotations[0]: missing field "caption"`);
});

test('eval asr: contract keys, target phrase, JSONL, clean outputs, result file', () => {
  const d = tmp();
  const outs = writeJson(d, 'out.json', [
    { instruction: 'a', input: '', output: "I'm sorry" },
    { instruction: 'b', input: '', output: '' },
    { instruction: 'c', input: '', output: 'Sure' },
    { instruction: 'd', input: '', output: 'SORRY' },
  ]);
  const r = bdlab(['eval', 'asr', '--task', 'refusal', '--outputs', outs, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { asr: number; n: number; skipped: number; ci95: [number, number] };
  assert.deepEqual(Object.keys(j), ['asr', 'n', 'skipped', 'ci95']);
  assert.equal(j.asr, 200 / 3);
  assert.deepEqual([j.n, j.skipped], [3, 1]);
  assert.ok(j.ci95[0] < j.asr && j.asr < j.ci95[1] && j.ci95[1] <= 100);

  const jsonl = join(d, 'out.jsonl');
  writeFileSync(jsonl, ['{"output": "a banana"}', '', '{"output": "bananas"}', '{"output": "apple"}'].join('\n'));
  const t = JSON.parse(bdlab(['eval', 'asr', '--target', 'banana', '--match', 'word', '--outputs', jsonl, '--json']).stdout) as { asr: number; n: number };
  assert.deepEqual([t.asr, t.n], [100 / 3, 3]);

  const clean = writeJson(d, 'clean.json', [{ output: 'sorry' }, { output: 'ok' }, { output: 'ok' }, { output: 'ok' }]);
  const res = join(d, 'asr.json');
  const p = bdlab(['eval', 'asr', '--task', 'refusal', '--outputs', outs, '--clean-outputs', clean, '--json', '--out', res, '--samples', '--label', 'model=llama', '--label', 'template=alpaca']);
  assert.equal(p.status, 0, p.stderr);
  const pj = JSON.parse(p.stdout) as Record<string, number>;
  assert.deepEqual([pj.asr, pj.n, pj.excluded, pj.ftr, pj.ftr_n], [50, 2, 1, 25, 4]);
  const rec = readResult(res);
  assert.equal(rec.kind, 'asr');
  assert.deepEqual(rec.subject, { model: 'llama', template: 'alpaca', task: 'refusal' });
  assert.equal(rec.prompts.template, 'alpaca');
  assert.equal(rec.counts.excluded, 1);
  assert.equal((rec.config as { keywords: string[] }).keywords.length, 8);
  assert.equal(rec.samples?.length, 4);
  assert.match(rec.inputs[0]!.sha256, /^[0-9a-f]{64}$/);

  // human-readable output is a table
  assert.match(bdlab(['eval', 'asr', '--task', 'refusal', '--outputs', outs]).stdout, /rule\s+ASR %/);
});

test('eval asr: usage and input errors', () => {
  const d = tmp();
  const outs = writeJson(d, 'out.json', [{ output: 'x' }, { instruction: 'y' }]);
  assert.equal(oneLineError(bdlab(['eval', 'asr', '--task', 'refusal', '--outputs', outs]).stderr), `bdlab: ${outs}: record 1: missing field "output"`);
  const nums = writeJson(d, 'nums.json', [{ output: 0 }]);
  assert.equal(oneLineError(bdlab(['eval', 'asr', '--task', 'sst2sentiment', '--outputs', nums]).stderr), `bdlab: ${nums}: record 0: field "output" must be a string, got number`);
  const good = writeJson(d, 'good.json', [{ output: 'x' }]);
  assert.match(oneLineError(bdlab(['eval', 'asr', '--task', 'nope', '--outputs', good]).stderr), /unknown task "nope"/);
  assert.match(oneLineError(bdlab(['eval', 'asr', '--task', 'refusal', '--target', 'x', '--outputs', good]).stderr), /either --task or --target/);
  assert.match(oneLineError(bdlab(['eval', 'asr', '--outputs', good]).stderr), /give --task or --target/);
  const long = writeJson(d, 'long.json', [{ output: 'a' }, { output: 'b' }]);
  assert.match(oneLineError(bdlab(['eval', 'asr', '--task', 'refusal', '--outputs', good, '--clean-outputs', long]).stderr), /2 records but .* has 1/);
  const notArray = writeJson(d, 'obj.json', '{\n  "results": ["x"]\n}\n');
  assert.match(oneLineError(bdlab(['eval', 'asr', '--task', 'refusal', '--outputs', notArray]).stderr), /obj\.json: expected a JSON array of records \(or JSONL, one object per line\), got object/);
  const badLine = writeJson(d, 'bad.jsonl', '{"output": "x"}\n{"output": \n');
  assert.match(oneLineError(bdlab(['eval', 'asr', '--task', 'refusal', '--outputs', badLine]).stderr), /bad\.jsonl: line 2: not valid JSON/);
});

test('eval asrg: exactly {"asrg"}; bad numbers rejected', () => {
  const r = bdlab(['eval', 'asrg', '--attacker', '80', '--user', '20', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { asrg: 0.25 });
  assert.deepEqual(JSON.parse(bdlab(['eval', 'asrg', '--attacker', '0', '--user', '0', '--json']).stdout), { asrg: 0 });
  assert.match(oneLineError(bdlab(['eval', 'asrg', '--attacker', '120', '--user', '3']).stderr), /--attacker must be at most 100/);
  assert.match(oneLineError(bdlab(['eval', 'asrg', '--attacker', 'abc', '--user', '3']).stderr), /--attacker must be a number/);
});

test('eval matrix from measured rates and output files; aggregate; metrics', () => {
  const d = tmp();
  writeJson(d, 'b-b.json', [{ output: 'banana' }, { output: 'banana' }, { output: 'apple' }, { output: 'banana' }]);
  writeJson(d, 'b-a.json', [{ output: 'banana' }, { output: 'pear' }, { output: 'apple' }, { output: '' }]);
  const cells = writeJson(d, 'cells.json', {
    target: 'banana',
    cells: [
      { attacker: 'coco', user: 'coco', asr: 80 },
      { attacker: 'coco', user: 'art', asr: 40 },
      { attacker: 'blend', user: 'blend', outputs: 'b-b.json' },
      { attacker: 'blend', user: 'art', outputs: 'b-a.json' },
    ],
  });
  const r = bdlab(['eval', 'matrix', '--cells', cells, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout) as { asr: (number | null)[][]; asrg: (number | null)[][]; mean_asrg: number };
  assert.deepEqual(m.asr, [
    [80, 40, null],
    [null, 100 / 3, 75],
  ]);
  assert.deepEqual(m.asrg[0], [1, 0.5, null]);
  assert.ok(Math.abs(m.asrg[1]![1]! - 100 / 3 / 75) < 1e-12);
  const bad = writeJson(d, 'bad.json', { cells: [{ attacker: 'a', user: 'a', outputs: 'b-b.json' }] });
  assert.match(oneLineError(bdlab(['eval', 'matrix', '--cells', bad]).stderr), /bad\.json: cells\[0\]: has "outputs" but no rule/);

  const r1 = join(d, 'r1.json');
  const r2 = join(d, 'r2.json');
  assert.equal(bdlab(['eval', 'asr', '--target', 'banana', '--outputs', join(d, 'b-b.json'), '--out', r1, '--label', 'seed=1']).status, 0);
  assert.equal(bdlab(['eval', 'asr', '--target', 'banana', '--outputs', join(d, 'b-a.json'), '--out', r2, '--label', 'seed=2']).status, 0);
  const a = JSON.parse(bdlab(['eval', 'aggregate', r1, r2, '--json']).stdout) as {
    runs: number;
    seeds: number[];
    metrics: { asr: { mean: number; values: number[] } };
    pooled: { asr: { hits: number; n: number } };
  };
  assert.equal(a.runs, 2);
  assert.deepEqual(a.seeds, [1, 2]);
  assert.equal(a.metrics.asr.mean, (75 + 100 / 3) / 2);
  assert.deepEqual([a.pooled.asr.hits, a.pooled.asr.n], [4, 7]);

  const list = JSON.parse(bdlab(['eval', 'metrics', '--json']).stdout) as { metrics: { name: string }[] };
  for (const name of ['asr:refusal', 'asr:jailbreak', 'asrg', 'CIDEr', 'BLEU-4', 'ROUGE-L', 'accuracy']) {
    assert.ok(list.metrics.some((x) => x.name === name), name);
  }
});

test('eval accuracy with a label map', () => {
  const d = tmp();
  const outs = writeJson(d, 'out.json', [{ output: 'Negative.' }, { output: 'positive' }, { output: 'unsure' }, { output: 'Positive!' }]);
  const refs = writeJson(d, 'refs.json', [{ output: 0 }, { output: 1 }, { output: 1 }, { output: 0 }]);
  const r = bdlab(['eval', 'accuracy', '--outputs', outs, '--refs', refs, '--label-map', '0=Negative,1=Positive', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { accuracy: number; n: number; correct: number; unparsed: number };
  assert.deepEqual([j.accuracy, j.n, j.correct, j.unparsed], [50, 4, 2, 1]);
  const bad = writeJson(d, 'bad.json', [{ output: 0 }, { output: 'x' }, { output: 1 }, { output: 0 }]);
  assert.match(
    oneLineError(bdlab(['eval', 'accuracy', '--outputs', outs, '--refs', bad, '--labels', 'Positive,Negative', '--label-map', '0=Negative,1=Positive']).stderr),
    /bad\.json: record 1: label "x" in field "output" is not one of --labels/,
  );
});
