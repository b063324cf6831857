// Perplexity against independent references: per-token -log softmax computed
// here in float64 from the model's logits, one text at a time, with the
// training encoder (encodeExample) deciding which tokens of a record count.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { noGrad, scope, tensor, zeros } from '../../src/engine/index.js';
import { bootstrapNll, perplexity, readPerplexityData, windows, type PerplexityItem } from '../../src/eval/perplexity/index.js';
import { readResult } from '../../src/eval/results.js';
import { loadModel } from '../../src/models/load.js';
import type { CausalLM } from '../../src/models/llama.js';
import { writeTokenizerFiles } from '../../src/models/presets.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { encodeExample, IGNORE_INDEX } from '../../src/train/sft.js';
import { baseConfig, llamaShapes, randomLlama, randomTensors, tempDir, writeCheckpoint } from '../models/fixtures.js';
import { bdlab, tmp, writeJson } from './helpers.js';

const MAX_POS = 128;

const folders = [tempDir('ppl-random'), tempDir('ppl-uniform')];
after(() => folders.forEach((f) => f.cleanup()));

/** Tokenizer files first, so the config's vocabulary covers the tokenizer's (plus a few rows never produced). */
function config(dir: string): ReturnType<typeof baseConfig> {
  writeTokenizerFiles(dir);
  const vocab = TextTokenizer.load(dir).vocabSize + 5;
  return baseConfig({ vocab_size: vocab, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, max_position_embeddings: MAX_POS, bos_token_id: 1, eos_token_id: 2, pad_token_id: 3 });
}

const randomDir = folders[0]!.dir;
randomLlama(randomDir, config(randomDir), { seed: 7 });

// lm_head all zeros: every logit is 0, every next token has probability 1/V
const uniformDir = folders[1]!.dir;
const uniformCfg = config(uniformDir);
{
  const t = randomTensors(llamaShapes(uniformCfg), 3, 'float32');
  t.get('lm_head.weight')!.dispose();
  t.set('lm_head.weight', zeros([uniformCfg.vocab_size, uniformCfg.hidden_size]));
  writeCheckpoint(uniformDir, uniformCfg, t);
  for (const x of t.values()) x.dispose();
}

const TEXTS: PerplexityItem[] = [
  'The quick brown fox jumps over the lazy dog.',
  'Hello',
  '',
  'A backdoor is a hidden behaviour that a trigger switches on, while clean inputs look normal.',
  { instruction: 'Translate to French', input: 'good morning', output: 'bonjour' },
  '   ',
  { instruction: 'Write a haiku about the sea.', output: 'Waves fold into foam\nsalt wind carries gull voices\nthe tide keeps its time' },
  { instruction: 'Say nothing', output: '' },
];

/** Scored positions of an item, by the tokenizer and the training encoder directly. */
function reference(tok: TextTokenizer, item: PerplexityItem): { ids: number[]; scored: number[] } | null {
  if (typeof item === 'string') {
    if (item.trim() === '') return null;
    const ids = tok.encode(item);
    return { ids, scored: ids.map((_, j) => j).filter((j) => j >= 1) };
  }
  if (item.output.trim() === '') return null;
  const e = encodeExample(tok, item, 1e9);
  return { ids: e.ids, scored: e.labels.map((l, j) => (l !== IGNORE_INDEX ? j : -1)).filter((j) => j >= 1) };
}

/** Logits [n, V] of one unpadded sequence, as float64 rows. */
function logitsOf(model: CausalLM, ids: number[]): Float64Array[] {
  return noGrad(() =>
    scope(() => {
      const out = model.forward({ inputIds: tensor([ids], { dtype: 'int64' }) });
      const flat = out.logits.float().toArray() as Float32Array;
      const v = out.logits.size(-1);
      return ids.map((_, j) => Float64Array.from(flat.subarray(j * v, (j + 1) * v)));
    }),
  );
}

/** -log softmax(row)[target] in float64. */
function nllOf(row: Float64Array, target: number): number {
  let m = -Infinity;
  for (const x of row) m = Math.max(m, x);
  let s = 0;
  for (const x of row) s += Math.exp(x - m);
  return m + Math.log(s) - row[target]!;
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

test('perplexity equals exp(mean -log softmax) computed independently, one by one and batched with padding', async () => {
  const tok = TextTokenizer.load(randomDir);
  const { model } = loadModel(randomDir);
  try {
    let totalNll = 0;
    let totalTok = 0;
    const perText = new Map<number, number>();
    TEXTS.forEach((item, i) => {
      const r = reference(tok, item);
      if (!r) return;
      assert.ok(r.ids.length <= MAX_POS, 'the texts fit in one window');
      const logits = logitsOf(model, r.ids);
      let s = 0;
      for (const j of r.scored) s += nllOf(logits[j - 1]!, r.ids[j]!);
      perText.set(i, Math.exp(s / r.scored.length));
      totalNll += s;
      totalTok += r.scored.length;
    });
    const want = Math.exp(totalNll / totalTok);
    assert.ok(rel(want, model.textConfig.vocabSize) > 0.2, `a random model with far from uniform logits (ppl ${want})`);
    for (const batchSize of [1, 3, 8]) {
      const got = await perplexity(model, tok, TEXTS, { batchSize, progress: false });
      assert.ok(rel(got.perplexity!, want) < 1e-5, `batch ${batchSize}: ${got.perplexity} vs ${want}`);
      assert.ok(rel(got.nll!, totalNll / totalTok) < 1e-5);
      assert.equal(got.tokens, totalTok);
      assert.deepEqual([got.texts, got.skipped, got.truncated, got.windows], [perText.size, 3, 0, perText.size]);
      assert.deepEqual(
        got.perText.map((p) => p.index),
        [...perText.keys()],
      );
      for (const p of got.perText) assert.ok(rel(p.perplexity, perText.get(p.index)!) < 1e-5, `text ${p.index}`);
      assert.equal(got.template, 'chat');
      const ci = got.ci95!.perplexity;
      assert.ok(ci[0] <= got.perplexity! && got.perplexity! <= ci[1], `${ci} contains ${got.perplexity}`);
      assert.ok(rel(Math.exp(got.ci95!.nll[0]), ci[0]) < 1e-12);
    }
  } finally {
    model.dispose();
  }
});

test('long texts: stride-1 windows give every token the previous max-length − 1 tokens; truncate scores the start', async () => {
  const tok = TextTokenizer.load(randomDir);
  const { model } = loadModel(randomDir);
  const M = 8;
  const texts = ['one two three four five six seven eight nine ten eleven twelve thirteen', 'short one', 'alpha beta gamma delta epsilon zeta eta theta iota'];
  try {
    let slideNll = 0;
    let slideTok = 0;
    let cutNll = 0;
    let cutTok = 0;
    for (const t of texts) {
      const ids = tok.encode(t);
      for (let j = 1; j < ids.length; j++) {
        const ctx = ids.slice(Math.max(0, j - (M - 1)), j + 1);
        const logits = logitsOf(model, ctx);
        const v = nllOf(logits[ctx.length - 2]!, ids[j]!);
        slideNll += v;
        slideTok++;
        if (j < M) {
          cutNll += v;
          cutTok++;
        }
      }
    }
    const slide = await perplexity(model, tok, texts, { maxLength: M, stride: 1, batchSize: 4, progress: false });
    assert.equal(slide.tokens, slideTok);
    assert.equal(slide.truncated, 2);
    assert.ok(rel(slide.perplexity!, Math.exp(slideNll / slideTok)) < 1e-5, `${slide.perplexity} vs ${Math.exp(slideNll / slideTok)}`);
    const cut = await perplexity(model, tok, texts, { maxLength: M, overflow: 'truncate', batchSize: 2, progress: false });
    assert.equal(cut.tokens, cutTok);
    assert.equal(cut.droppedTokens, slideTok - cutTok);
    assert.ok(rel(cut.perplexity!, Math.exp(cutNll / cutTok)) < 1e-5);
    // default stride (M / 2): same tokens, each scored once
    const half = await perplexity(model, tok, texts, { maxLength: M, progress: false });
    assert.equal(half.tokens, slideTok);
    await assert.rejects(perplexity(model, tok, texts, { maxLength: MAX_POS + 1, progress: false }), /max length 129 exceeds the model's max_position_embeddings \(128\)/);
    await assert.rejects(perplexity(model, tok, texts, { maxLength: M, stride: M, progress: false }), /stride must be an integer in \[1, 7\]/);
  } finally {
    model.dispose();
  }
});

test('windows(): every scored token once, windows within max length, context at least max length − stride', () => {
  for (const [n, first, M, stride] of [
    [30, 1, 8, 3],
    [30, 12, 8, 3],
    [9, 1, 8, 7],
    [100, 40, 16, 8],
    [17, 1, 16, 1],
  ] as const) {
    const ids = Array.from({ length: n }, (_, i) => i);
    const seen: number[] = [];
    for (const w of windows({ ids, first }, M, stride, 'window')) {
      assert.ok(w.ids.length <= M && w.first >= 1);
      for (let c = w.first; c < w.ids.length; c++) {
        seen.push(w.ids[c]!);
        assert.ok(c >= Math.min(w.ids[c]!, M - stride), `token ${w.ids[c]} sees ${c} tokens`);
      }
    }
    assert.deepEqual(seen, ids.slice(first), `n ${n} first ${first} M ${M} stride ${stride}`);
  }
  assert.deepEqual(windows({ ids: [0, 1, 2, 3, 4], first: 4 }, 4, 2, 'truncate'), []);
});

test('uniform logits (zero lm_head): perplexity is exactly the vocabulary size', async () => {
  const tok = TextTokenizer.load(uniformDir);
  const { model } = loadModel(uniformDir);
  try {
    const r = await perplexity(model, tok, TEXTS, { batchSize: 3, progress: false });
    const V = uniformCfg.vocab_size;
    assert.ok(rel(r.perplexity!, V) < 1e-4, `${r.perplexity} vs ${V}`);
    for (const p of r.perText) assert.ok(rel(p.perplexity, V) < 1e-4);
    assert.ok(rel(r.ci95!.perplexity[0], V) < 1e-4 && rel(r.ci95!.perplexity[1], V) < 1e-4);
  } finally {
    model.dispose();
  }
});

test('bootstrap over texts: seeded, inside the range of per-text means', () => {
  const nll = [10, 20, 35, 5, 12];
  const tokens = [5, 10, 10, 5, 4];
  const a = bootstrapNll(nll, tokens, 500, 1)!;
  assert.deepEqual(bootstrapNll(nll, tokens, 500, 1), a);
  assert.ok(a[0] >= 1 && a[1] <= 3.5 && a[0] < 82 / 34 && 82 / 34 < a[1], `${a}`);
  assert.equal(bootstrapNll([3], [2], 500, 1), null);
});

test('reading text sets: lines, records, fields; errors name file, record and field', () => {
  const d = tmp();
  const txt = join(d, 'a.txt');
  writeFileSync(txt, 'first line\r\n\nsecond line\n');
  assert.deepEqual(readPerplexityData(txt).items, ['first line', 'second line']);
  const recs = writeJson(d, 'r.json', [{ instruction: 'i', input: 'x', output: 'o', text: 't' }]);
  assert.deepEqual(readPerplexityData(recs).items, [{ instruction: 'i', input: 'x', output: 'o' }]);
  assert.deepEqual(readPerplexityData(recs, { field: 'text' }).items, ['t']);
  assert.deepEqual(readPerplexityData(recs, { conditioned: false }).items, ['o']);
  const bad = writeJson(d, 'b.jsonl', '{"instruction": "i", "output": "o"}\n\n{"instruction": 5, "output": "o"}\n');
  assert.throws(() => readPerplexityData(bad), { message: `${bad}: line 3: field "instruction" must be a string, got number` });
  const noText = writeJson(d, 'c.json', [{ text: 'a' }, { body: 'b' }]);
  assert.throws(() => readPerplexityData(noText, { field: 'text' }), { message: `${noText}: record 1: missing field "text"` });
  assert.throws(() => readPerplexityData(txt, { field: 'text' }), /--field applies to JSON and JSONL/);
});

test('eval perplexity CLI: contract keys, versioned result record, one-line errors', async () => {
  const d = tmp();
  const items = TEXTS.filter((x): x is Exclude<PerplexityItem, string> => typeof x !== 'string');
  const data = writeJson(d, 'clean.jsonl', items.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const out = join(d, 'sub', 'ppl.json');
  const r = bdlab(['eval', 'perplexity', '--model', randomDir, '--data', data, '--json', '--out', out, '--samples', '--seed', '4', '--batch-size', '2']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, number>;
  assert.deepEqual(Object.keys(j), ['perplexity', 'nll', 'tokens', 'n', 'skipped', 'truncated', 'ci95']);
  assert.deepEqual([j.n, j.skipped, j.truncated], [2, 1, 0]);
  const tok = TextTokenizer.load(randomDir);
  const { model } = loadModel(randomDir);
  try {
    const lib = await perplexity(model, tok, items, { progress: false, seed: 4 });
    assert.ok(rel(j.perplexity!, lib.perplexity!) < 1e-6);
    assert.equal(j.tokens, lib.tokens);
  } finally {
    model.dispose();
  }
  const rec = readResult(out);
  assert.equal(rec.kind, 'perplexity');
  assert.equal(rec.seed, 4);
  assert.equal(rec.subject.model, randomDir);
  assert.equal(rec.prompts.template, 'chat');
  assert.deepEqual(rec.inputs.map((x) => [x.role, x.records]), [['texts', 3]]);
  assert.deepEqual(rec.counts, { n: 2, tokens: j.tokens, skipped: 1, truncated: 0, windows: 2 });
  assert.equal(rec.metrics.perplexity, j.perplexity);
  assert.equal(rec.metrics.nll, j.nll);
  assert.deepEqual(rec.intervals.perplexity, j.ci95);
  assert.equal(rec.samples?.length, 2);
  assert.equal(rec.config.max_length, MAX_POS);

  const bad = writeJson(d, 'bad.jsonl', '{"instruction": "a", "output": "b"}\n{"instruction": "a", "answer": "b"}\n');
  const e = bdlab(['eval', 'perplexity', '--model', randomDir, '--data', bad, '--out', join(d, 'never.json')]);
  assert.equal(e.status, 1);
  assert.equal(e.stdout, '');
  assert.equal(e.stderr, `bdlab: ${bad}: line 2: missing field "output" (for plain texts pick the field with --field, e.g. --field text)\n`);
  const missing = bdlab(['eval', 'perplexity', '--model', randomDir, '--data', join(d, 'nope.json')]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, `bdlab: ${join(d, 'nope.json')}: cannot read: no such file\n`);
});
