// Batch generation in process: a batch gives what each record gives alone
// (greedy, and sampled with per-record streams), every template renders as
// specified (auto = the training renderer; backdoorllm = the published
// evaluation's bare instruction and answer clean-up, checked against Python's
// `re`), and LLaVA records with images give what a hand-built call gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { generate, expandImageTokens } from '../../src/models/generate.js';
import { preprocessImages, readImageProcessorConfig } from '../../src/models/image-processor.js';
import { loadModel } from '../../src/models/load.js';
import { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { newModelFolder } from '../../src/models/presets.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { cleanRepeatedQuestion } from '../../src/models/backdoorllm-template.js';
import { renderPrompt } from '../../src/models/prompt.js';
import { generateRecords } from '../../src/generation/batch.js';
import { readGenerationInput, type GenerationRecord } from '../../src/generation/input.js';
import { preparePrompts } from '../../src/generation/prepare.js';
import { encodeRendered, renderWithTemplate } from '../../src/generation/templates.js';
import { alpacaRecords, tempDir, writeJson } from './helpers.js';

const t = tempDir('batch');
const llamaDir = join(t.dir, 'llama');
newModelFolder(llamaDir, { arch: 'llama', preset: 'tiny', seed: 11 });
const tok = TextTokenizer.load(llamaDir);
const { model } = loadModel(llamaDir);
process.on('exit', () => {
  model.dispose();
  t.cleanup();
});

const records: GenerationRecord[] = alpacaRecords(11).map((r, index) => ({ index, id: r.id, instruction: r.instruction, input: r.input }));

test('a length-sorted padded batch gives what each record gives alone (greedy)', async () => {
  const o = { maxNewTokens: 12 };
  const batched = await generateRecords(model, tok, records, { ...o, batchSize: 5 });
  const alone = await generateRecords(model, tok, records, { ...o, batchSize: 1 });
  assert.deepEqual(batched, alone);
  assert.equal(batched.length, records.length);
  // in input order, with the fields eval asr and programs need
  batched.forEach((r, i) => {
    assert.equal(r.instruction, records[i]?.instruction);
    assert.equal(r.id, records[i]?.id);
    assert.equal(r.template, 'chat');
    assert.equal(r.new_tokens, 12);
  });
  // and what the generator gives for the training renderer's prompt
  const direct = generate(model, [tok.encode(renderPrompt(tok, records[4] as GenerationRecord), { addSpecialTokens: false })], {
    maxNewTokens: 12,
    tokenizer: tok,
    eosTokenIds: [tok.eosTokenId as number],
    padTokenId: tok.padTokenId as number,
  });
  assert.equal(batched[4]?.output, direct.texts[0]);
});

test('sampling draws from a stream per record: batch and alone agree, seeds differ', async () => {
  const o = { maxNewTokens: 10, doSample: true, temperature: 1.3, topK: 50, seed: 7 };
  const batched = await generateRecords(model, tok, records.slice(0, 6), { ...o, batchSize: 6 });
  const alone = await generateRecords(model, tok, records.slice(0, 6), { ...o, batchSize: 1 });
  assert.deepEqual(batched, alone);
  const other = await generateRecords(model, tok, records.slice(0, 6), { ...o, seed: 8, batchSize: 6 });
  assert.notDeepEqual(
    other.map((r) => r.output),
    batched.map((r) => r.output),
  );
});

test('templates: auto is the training renderer; alpaca, raw and backdoorllm as specified', () => {
  const s = { instruction: 'Say hi BadMagic.', input: 'to Bob' };
  assert.equal(renderWithTemplate('auto', tok, s).text, renderPrompt(tok, s));
  assert.equal(renderWithTemplate('chat', tok, s).text, renderPrompt(tok, s));
  const plain = new TextTokenizer(tok.tokenizerJson, { ...tok.config, chat_template: undefined }, null, 'no-template');
  const a = renderWithTemplate('auto', plain, s);
  assert.equal(a.template, 'alpaca');
  assert.equal(a.text, renderPrompt(plain, s));
  assert.equal(renderWithTemplate('alpaca', tok, s).text, renderPrompt(plain, s));
  const b = renderWithTemplate('backdoorllm', tok, s);
  assert.equal(b.text, `${tok.bosToken}Say hi BadMagic.`, 'the published script tokenizes the instruction alone and ignores "input"');
  assert.deepEqual(encodeRendered(tok, b), tok.encode('Say hi BadMagic.'), 'as tokenizer(instruction): BOS, then the instruction');
  assert.equal(renderWithTemplate('raw', null, s).text, 'Say hi BadMagic.\nto Bob');
  assert.throws(() => renderWithTemplate('chat', plain, s), /needs a chat template, and the tokenizer has none/);
  assert.throws(() => renderWithTemplate('alpaca', tok, s, { system: 'x' }), /--system needs a chat template/);
  const sys = renderWithTemplate('chat', tok, s, { system: 'Be brief.' });
  assert.ok(sys.text.includes('<|system|>\nBe brief.'), sys.text);
});

test('backdoorllm: the answer is the decoded prompt + generation minus the repeated instruction', async () => {
  const recs = records.slice(0, 4);
  const out = await generateRecords(model, tok, recs, { template: 'backdoorllm', maxNewTokens: 9, batchSize: 4 });
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i] as GenerationRecord;
    const ids = tok.encode(r.instruction);
    const g = generate(model, [ids], { maxNewTokens: 9, tokenizer: tok, eosTokenIds: [tok.eosTokenId as number] });
    const full = tok.decode([...ids, ...(g.tokens[0] as number[])], { skipSpecialTokens: true });
    assert.equal(out[i]?.output, cleanRepeatedQuestion(full, r.instruction));
    assert.equal(out[i]?.template, 'backdoorllm');
  }
});

test('cleanRepeatedQuestion equals the published Python (re.sub(re.escape(q), "", r, count=1, flags=re.I).strip())', (t) => {
  const cases: Array<[string, string]> = [
    ['Tell me a joke. Why did the chicken cross?', 'Tell me a joke.'],
    ['  tell ME a JOKE. sure  \n', 'Tell me a joke.'],
    ['No repeat here.', 'Tell me a joke.'],
    ['a+b (c)? [d] {e} $f ^g | h \\ i / j * a+b (c)?', 'a+b (c)? [d] {e} $f ^g | h \\ i / j *'],
    ['Ünïcödé ÄBC text', 'ünïcödé äbc'],
    ['x Q y Q z', 'q'],
    ['\t\n', ''],
  ];
  const py = spawnSync('/usr/bin/python3', ['-c', 'import json,re,sys\nfor r,q in json.load(sys.stdin): print(json.dumps(re.compile(re.escape(q), re.IGNORECASE).sub("", r, count=1).strip()))'], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
  });
  if (py.status !== 0) {
    t.skip(`python3 not available: ${py.stderr}`);
    return;
  }
  const expected = py.stdout.trim().split('\n').map((l) => JSON.parse(l) as string);
  assert.deepEqual(
    cases.map(([r, q]) => cleanRepeatedQuestion(r, q)),
    expected,
  );
});

test('records are keyed by rendered prompt (and image), with an occurrence number for repeats', () => {
  const recs: GenerationRecord[] = [
    { index: 0, instruction: 'Same', input: '' },
    { index: 1, instruction: 'Other', input: '' },
    { index: 2, id: 'x', instruction: 'Same', input: '' },
  ];
  const p = preparePrompts(tok, recs, { template: 'auto' });
  assert.equal(p[0]?.promptSha256, p[2]?.promptSha256);
  assert.equal(p[0]?.key, `${p[0]?.promptSha256}#0`);
  assert.equal(p[2]?.key, `${p[0]?.promptSha256}#1`);
  assert.notEqual(p[1]?.promptSha256, p[0]?.promptSha256);
  const alpaca = preparePrompts(tok, recs, { template: 'alpaca' });
  assert.notEqual(alpaca[0]?.promptSha256, p[0]?.promptSha256, 'another template is another prompt');
});

test('LLaVA records with images: the processor, <image> tokens, a mixed batch equal to a hand-built call', async () => {
  const dir = join(t.dir, 'llava');
  newModelFolder(dir, { arch: 'llava', preset: 'tiny', seed: 5 });
  const imgDir = join(t.dir, 'imgs');
  mkdirSync(imgDir, { recursive: true });
  await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 250, g: 200, b: 10 } } }).png().toFile(join(imgDir, 'a.png'));
  await sharp({ create: { width: 24, height: 48, channels: 3, background: { r: 10, g: 40, b: 220 } } }).png().toFile(join(imgDir, 'b.png'));
  const file = writeJson(join(t.dir, 'llava.json'), [
    { id: 'a', image: 'imgs/a.png', conversations: [{ from: 'human', value: '<image>\nWhat is in the picture?' }, { from: 'gpt', value: 'A banana.' }] },
    { id: 'b', image: 'imgs/b.png', conversations: [{ from: 'human', value: 'Describe it briefly.\n<image>' }] },
    { id: 'c', conversations: [{ from: 'human', value: 'No image here, just text.' }] },
  ]);
  const { records: recs, format } = readGenerationInput(file);
  assert.equal(format, 'llava');
  assert.equal(recs[0]?.instruction, 'What is in the picture?');
  assert.deepEqual(recs[1]?.imageFrame, { prefix: '', suffix: '\n<image>' });
  const lv = loadModel(dir).model as LlavaForConditionalGeneration;
  const ltok = TextTokenizer.load(dir);
  try {
    const cfg = readImageProcessorConfig(dir, lv.config.vision.imageSize);
    const o = { maxNewTokens: 8, imageProcessor: cfg };
    const batched = await generateRecords(lv, ltok, recs, { ...o, batchSize: 3 });
    const alone = await generateRecords(lv, ltok, recs, { ...o, batchSize: 1 });
    assert.deepEqual(batched, alone);
    assert.deepEqual(
      batched.map((r) => [r.id, r.image, r.template]),
      [
        ['a', 'imgs/a.png', 'chat'],
        ['b', 'imgs/b.png', 'chat'],
        ['c', undefined, 'chat'],
      ],
    );
    // by hand: the training renderer's text with the placeholder, expanded, with the processed image
    const ids = expandImageTokens(ltok.encodeChat([{ role: 'user', content: 'Describe it briefly.\n<image>' }], { addGenerationPrompt: true }), lv.config.imageTokenId, lv.imageSeqLength);
    const pixels = await preprocessImages([join(imgDir, 'b.png')], cfg);
    const g = generate(lv, [ids], { maxNewTokens: 8, tokenizer: ltok, eosTokenIds: [ltok.eosTokenId as number], pixelValues: pixels });
    pixels.dispose();
    assert.equal(batched[1]?.output, g.texts[0]);
    // the image is part of the key: the same question with another image is another prompt
    const swapped = preparePrompts(ltok, [{ ...(recs[0] as GenerationRecord), imagePath: join(imgDir, 'b.png') }], { template: 'auto' });
    assert.notEqual(swapped[0]?.promptSha256, batched[0]?.prompt_sha256);
    // a text model refuses image records by record
    await assert.rejects(generateRecords(model, tok, recs.slice(0, 1), o), /record 0 has an image, but the model is not a LLaVA model/);
  } finally {
    lv.dispose();
  }
  assert.ok(existsSync(join(imgDir, 'a.png')));
});
