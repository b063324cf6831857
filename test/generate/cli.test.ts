// `bdlab generate --input --out` as a user runs it: its output goes straight
// into `bdlab eval asr`; a run killed with SIGKILL resumes without redoing
// finished records and ends with the same file as an uninterrupted run;
// changed settings are refused without --force; bad records are one-line
// errors naming record and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readImageProcessorConfig } from '../../src/models/image-processor.js';
import { loadModel } from '../../src/models/load.js';
import type { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { newModelFolder } from '../../src/models/presets.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { generateRecords } from '../../src/generation/batch.js';
import { readGenerationInput } from '../../src/generation/input.js';
import { journalPath, readJournal } from '../../src/generation/journal.js';
import { BACKDOORLLM, skipWithoutBackdoorLLM } from '../shared-data.js';
import { alpacaRecords, bdlab, bdlabSpawn, oneLine, tempDir, writeJson } from './helpers.js';

const t = tempDir('cli');
process.on('exit', t.cleanup);
const model = join(t.dir, 'llama');
newModelFolder(model, { arch: 'llama', preset: 'tiny', seed: 21 });

interface Summary {
  records: number;
  generated: number;
  resumed: number;
  template: string;
  out: string;
}

test('generate --input → eval asr without conversion (JSON, JSONL and the --json object)', () => {
  const input = writeJson(join(t.dir, 'in.json'), alpacaRecords(6));
  const out = join(t.dir, 'out.json');
  const r = bdlab(['generate', '--model', model, '--input', input, '--out', out, '--max-new-tokens', '6', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Summary;
  assert.deepEqual([s.records, s.generated, s.resumed, s.template], [6, 6, 0, 'chat']);
  const recs = JSON.parse(readFileSync(out, 'utf8')) as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(recs[0] as object), ['id', 'instruction', 'input', 'output', 'template', 'finish_reason', 'new_tokens', 'prompt_sha256']);
  assert.equal(recs[0]?.id, 100);
  assert.ok(!existsSync(journalPath(out)), 'the journal is gone once --out is written');
  const asr = bdlab(['eval', 'asr', '--task', 'negsentiment', '--outputs', out, '--json']);
  assert.equal(asr.status, 0, asr.stderr);
  assert.equal((JSON.parse(asr.stdout) as { n: number; skipped: number }).n + (JSON.parse(asr.stdout) as { skipped: number }).skipped, 6);

  const jsonl = join(t.dir, 'out.jsonl');
  assert.equal(bdlab(['generate', '--model', model, '--input', input, '--out', jsonl, '--max-new-tokens', '6']).status, 0);
  const lines = readFileSync(jsonl, 'utf8').trim().split('\n');
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { output: string }).output),
    recs.map((x) => x.output),
  );
  assert.equal(bdlab(['eval', 'asr', '--target', 'banana', '--outputs', jsonl, '--json']).status, 0);

  const printed = bdlab(['generate', '--model', model, '--prompt', 'Hello there', '--prompt', 'Name a fruit.', '--max-new-tokens', '5', '--json']);
  assert.equal(printed.status, 0, printed.stderr);
  const saved = writeJson(join(t.dir, 'printed.json'), printed.stdout);
  const fromJson = bdlab(['eval', 'asr', '--target', 'banana', '--outputs', saved, '--json']);
  assert.equal(fromJson.status, 0, fromJson.stderr);
  const j = JSON.parse(fromJson.stdout) as { n: number; skipped: number };
  assert.equal(j.n + j.skipped, 2);
});

test('SIGKILL mid-run: the re-run skips finished records and the file equals an uninterrupted run', async () => {
  const input = writeJson(join(t.dir, 'kill-in.json'), alpacaRecords(30));
  const args = (out: string): string[] => ['generate', '--model', model, '--input', input, '--out', out, '--max-new-tokens', '24', '--batch-size', '2', '--json'];
  const whole = join(t.dir, 'whole.json');
  assert.equal(bdlab(args(whole)).status, 0);

  const out = join(t.dir, 'killed.json');
  const { child, done } = bdlabSpawn(args(out));
  const jp = journalPath(out);
  // wait until at least two batches are journaled, then kill without warning
  let entries = 0;
  for (let i = 0; i < 6000 && entries < 4; i++) {
    await new Promise((r) => setTimeout(r, 10));
    entries = existsSync(jp) ? readFileSync(jp, 'utf8').split('\n').length - 2 : 0;
  }
  child.kill('SIGKILL');
  await done;
  assert.ok(!existsSync(out), 'killed before it finished');
  const kept = readJournal(jp)?.entries.length ?? 0;
  assert.ok(kept >= 4 && kept < 30, `journal holds ${kept} records`);

  const again = bdlab(args(out));
  assert.equal(again.status, 0, again.stderr);
  const s = JSON.parse(again.stdout) as Summary;
  assert.equal(s.resumed, kept);
  assert.equal(s.generated, 30 - kept);
  assert.equal(readFileSync(out, 'utf8'), readFileSync(whole, 'utf8'));
  assert.ok(!existsSync(jp));

  // a torn last line (a kill inside a write) is cut off, the rest kept
  const torn = join(t.dir, 'torn.json');
  const header = JSON.parse(readFileSync(join(t.dir, 'whole.json.manifest.json'), 'utf8')) as { settings: unknown };
  const first = (JSON.parse(readFileSync(whole, 'utf8')) as Array<{ prompt_sha256: string }>)[0];
  writeFileSync(
    journalPath(torn),
    JSON.stringify({ bdlab_generate_journal: 1, settings: header.settings }) + '\n' + JSON.stringify({ key: `${first?.prompt_sha256}#0`, record: first }) + '\n{"key": "abc#0", "rec',
  );
  const r = bdlab(args(torn));
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as Summary).resumed, 1);
  assert.equal(readFileSync(torn, 'utf8'), readFileSync(whole, 'utf8'));

  // finished: a re-run generates nothing
  const done2 = JSON.parse(bdlab(args(out)).stdout) as Summary;
  assert.deepEqual([done2.generated, done2.resumed], [0, 30]);
});

test('changed settings are refused without --force; --force starts over; more input records are added', () => {
  const input = writeJson(join(t.dir, 'set-in.json'), alpacaRecords(4));
  const out = join(t.dir, 'set.json');
  const base = ['generate', '--model', model, '--input', input, '--out', out];
  assert.equal(bdlab([...base, '--max-new-tokens', '4']).status, 0);
  const first = readFileSync(out, 'utf8');
  const changed = bdlab([...base, '--max-new-tokens', '5']);
  assert.equal(changed.status, 1);
  assert.match(oneLine(changed.stderr), /set\.json was generated with other settings \(max_new_tokens: was 4, now 5\); use --force/);
  assert.match(oneLine(bdlab([...base, '--max-new-tokens', '4', '--template', 'alpaca']).stderr), /template: was "chat", now "alpaca"/);
  assert.match(oneLine(bdlab([...base, '--max-new-tokens', '4', '--sample', '--seed', '3']).stderr), /do_sample: was false, now true/);
  assert.equal(readFileSync(out, 'utf8'), first, 'a refused run leaves the outputs alone');
  const forced = bdlab([...base, '--max-new-tokens', '5', '--force', '--json']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal((JSON.parse(forced.stdout) as Summary).generated, 4);

  writeJson(input, alpacaRecords(6));
  const grown = JSON.parse(bdlab([...base, '--max-new-tokens', '5', '--json']).stdout) as Summary;
  assert.deepEqual([grown.generated, grown.resumed], [2, 4]);
  writeJson(input, alpacaRecords(3));
  assert.match(oneLine(bdlab([...base, '--max-new-tokens', '5']).stderr), /holds 3 finished record\(s\) that this input does not have/);

  // an --out that bdlab did not write is not overwritten
  const foreign = writeJson(join(t.dir, 'foreign.json'), [{ output: 'mine' }]);
  assert.match(oneLine(bdlab(['generate', '--model', model, '--input', input, '--out', foreign]).stderr), /foreign\.json exists but has no .*manifest\.json/);
  assert.match(oneLine(bdlab(['generate', '--model', model, '--input', input, '--out', input]).stderr), /is the input file/);
});

test('bad input records and flags are one-line errors naming record and field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[{ instruction: 'ok' }, { input: 'no instruction' }], /bad\.json: record 1: field "instruction": missing/],
    [[{ instruction: 5 }], /record 0: field "instruction": expected a string, got number/],
    [[{ instruction: 'x', input: ['a'] }], /record 0: field "input": expected a string, got array/],
    [[{ instruction: 'x', id: { a: 1 } }], /record 0: field "id": expected a string or number, got object/],
    [[{ instruction: 'x', image: 'missing.png' }], /record 0: field "image": image file not found/],
    [[{ instruction: 'x', image: '../../etc/passwd' }], /record 0: field "image": image path .* escapes the image root/],
    [[{ conversations: [{ from: 'human', value: 'q' }] }, { id: 3, conversations: 'x' }], /record 1: field "conversations": expected a list of turns, got string/],
    [[{ conversations: [{ from: 'human', value: '<image>\nq' }] }], /record 0: field "conversations": the question has an <image> placeholder but the record has no image/],
    [[{ instruction: 'x' }, 'just a string'], /record 1: expected a JSON object, got string/],
    [{ annotations: [], images: [] }, /coco files hold no instructions/],
  ];
  const bad = join(t.dir, 'bad.json');
  for (const [content, re] of cases) {
    writeJson(bad, content);
    assert.throws(() => readGenerationInput(bad), re, JSON.stringify(content));
  }
  // as the command prints it: one line, exit 1, nothing written
  writeJson(bad, cases[0]?.[0]);
  const r = bdlab(['generate', '--model', model, '--input', bad, '--out', join(t.dir, 'bad-out.json')]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /^bdlab: .*bad\.json: record 1: field "instruction": missing$/);
  assert.ok(!existsSync(join(t.dir, 'bad-out.json')));
  const jsonl = join(t.dir, 'bad.jsonl');
  writeFileSync(jsonl, '{"instruction": "a"}\n\n{"instructio": "b"}\n');
  assert.match(oneLine(bdlab(['generate', '--model', model, '--input', jsonl, '--out', join(t.dir, 'x.json')]).stderr), /bad\.jsonl: record 1 \(line 3\): field "instruction": missing/);
  const flags: Array<[string[], RegExp]> = [
    [['--input', jsonl], /--input needs --out FILE/],
    [['--prompt', 'a', '--input', jsonl, '--out', 'x.json'], /give --input or --prompt, not both/],
    [['--prompt', 'a', '--template', 'fancy'], /unknown --template "fancy"/],
    [['--prompt', 'a', '--temperature', '0'], /--temperature must be greater than 0/],
    [['--prompt', 'a', '--batch-size', '0'], /--batch-size must be at least 1/],
    [['--prompt', 'a', '--template', 'backdoorllm', '--stop', 'x'], /stop strings do not go with the backdoorllm template/],
    [['--prompt', 'a', '--max-new-tokens', '2000'], /exceeds the model's max_position_embeddings \(1024\)/],
  ];
  for (const [args, re] of flags) assert.match(oneLine(bdlab(['generate', '--model', model, ...args]).stderr), re);
  assert.match(oneLine(bdlab(['generate', '--model', join(t.dir, 'nope'), '--prompt', 'a']).stderr), /--model .*nope: no such folder/);
});

test('the real BackdoorLLM test set: generate --template backdoorllm → eval asr', { skip: skipWithoutBackdoorLLM }, () => {
  const all = JSON.parse(readFileSync(join(BACKDOORLLM, 'test_data', 'poison', 'negsentiment', 'badnet', 'backdoor200_negsentiment_badnet.json'), 'utf8')) as unknown[];
  const input = writeJson(join(t.dir, 'bllm.json'), all.slice(0, 8));
  const out = join(t.dir, 'bllm-out.json');
  const r = bdlab(['generate', '--model', model, '--input', input, '--out', out, '--template', 'backdoorllm', '--max-new-tokens', '8', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const recs = JSON.parse(readFileSync(out, 'utf8')) as Array<{ instruction: string; template: string }>;
  assert.ok(recs.every((x) => x.template === 'backdoorllm' && x.instruction.includes('BadMagic')));
  assert.equal(bdlab(['eval', 'asr', '--task', 'negsentiment', '--outputs', out, '--json']).status, 0);
});

test('LLaVA records with images through the command: the folder image processor, the same answers as the library', async () => {
  const dir = join(t.dir, 'llava');
  newModelFolder(dir, { arch: 'llava', preset: 'tiny', seed: 8 });
  mkdirSync(join(t.dir, 'pics'), { recursive: true });
  await sharp({ create: { width: 50, height: 20, channels: 3, background: { r: 0, g: 160, b: 60 } } }).png().toFile(join(t.dir, 'pics', 'g.png'));
  await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 90, g: 0, b: 200 } } }).jpeg().toFile(join(t.dir, 'pics', 'p.jpg'));
  const input = join(t.dir, 'lv.jsonl');
  writeFileSync(
    input,
    [
      { id: 1, image: 'pics/g.png', conversations: [{ from: 'human', value: '<image>\nWhat colour is it?' }, { from: 'gpt', value: 'Green.' }] },
      { id: 2, image: 'pics/p.jpg', conversations: [{ from: 'human', value: 'Caption this image.' }] },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const out = join(t.dir, 'lv-out.json');
  const r = bdlab(['generate', '--model', dir, '--input', input, '--out', out, '--max-new-tokens', '6', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const recs = JSON.parse(readFileSync(out, 'utf8')) as Array<{ id: number; image: string; output: string; instruction: string }>;
  assert.deepEqual(
    recs.map((x) => [x.id, x.image, x.instruction]),
    [
      [1, 'pics/g.png', 'What colour is it?'],
      [2, 'pics/p.jpg', 'Caption this image.'],
    ],
  );
  const lv = loadModel(dir).model as LlavaForConditionalGeneration;
  try {
    const lib = await generateRecords(lv, TextTokenizer.load(dir), readGenerationInput(input).records, {
      maxNewTokens: 6,
      imageProcessor: readImageProcessorConfig(dir, lv.config.vision.imageSize),
    });
    assert.deepEqual(
      recs.map((x) => x.output),
      lib.map((x) => x.output),
    );
  } finally {
    lv.dispose();
  }
});
