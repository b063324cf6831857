import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bleu, closestRefLength } from '../../src/eval/caption/bleu.js';

const t = (s: string): string[] => (s === '' ? [] : s.split(' '));
const bleuOf = (pairs: [string, string[]][]): number[] => bleu(pairs.map((p) => t(p[0])), pairs.map((p) => p[1].map(t)));
// brevity penalty for equal lengths: the epsilons make it 1 − 1e-9/len, not exactly 1
const bpEqual = (len: number): number => Math.exp(1 - 1 / ((len + 1e-15) / (len + 1e-9)));

test('BLEU-1..4 of one sentence against one reference, worked by hand', () => {
  // "a cat sat on the mat" vs "the cat sat on the mat": matches 5/6, 4/5, 3/4, 2/3
  const [b1, b2, b3, b4] = bleuOf([['a cat sat on the mat', ['the cat sat on the mat']]]) as [number, number, number, number];
  assert.ok(Math.abs(b1 - 5 / 6) < 1e-9);
  assert.ok(Math.abs(b2 - Math.sqrt((5 / 6) * (4 / 5))) < 1e-9);
  assert.ok(Math.abs(b3 - Math.cbrt(0.5)) < 1e-9);
  assert.ok(Math.abs(b4 - (1 / 3) ** 0.25) < 1e-9);
  // the exact value, with coco-caption's epsilons
  assert.equal(b1, ((5 + 1e-15) / (6 + 1e-9)) * bpEqual(6));
});

test('a perfect match scores just below 1 (coco-caption epsilons)', () => {
  const b = bleuOf([['a b c d', ['a b c d']]]);
  for (const v of b) {
    assert.ok(v < 1 && v > 1 - 1e-9, String(v));
  }
});

test('counts are clipped by the most in any one reference', () => {
  // "the" ×4 against a reference with "the" ×2: 2/4; brevity penalty exp(1 − 6/4)
  const [b1] = bleuOf([['the the the the', ['the cat is on the mat']]]) as [number];
  assert.ok(Math.abs(b1 - 0.5 * Math.exp(-0.5)) < 1e-9);
  // the clip is the max over references (2), not their sum (3)
  const [c1] = bleuOf([['the the the', ['the cat', 'the the dog']]]) as [number];
  assert.ok(Math.abs(c1 - 2 / 3) < 1e-9);
});

test('closest reference length, the shorter on a tie', () => {
  assert.equal(closestRefLength(5, [4, 6]), 4);
  assert.equal(closestRefLength(5, [6, 4]), 4);
  assert.equal(closestRefLength(5, [7, 2, 5]), 5);
  assert.equal(closestRefLength(0, [3, 9]), 3);
  // with r = 4 there is no brevity penalty; r = 6 would give exp(1 − 6/5)
  const [b1] = bleuOf([['a b c d e', ['a b c d e f', 'a b c d']]]) as [number];
  assert.ok(Math.abs(b1 - 1) < 1e-9);
});

test('corpus BLEU sums counts over images instead of averaging sentence scores', () => {
  const [b1] = bleuOf([
    ['a b', ['a b']],
    ['c d e f', ['w x y z']],
  ]) as [number];
  assert.ok(Math.abs(b1 - 2 / 6) < 1e-9, `${b1} (an average of sentence scores would be 0.5)`);
});

test('empty candidates give 0, never NaN', () => {
  const b = bleuOf([['', ['a b']]]);
  for (const v of b) assert.equal(v, 0);
  const [m1] = bleuOf([
    ['', ['x y']],
    ['a b', ['a b']],
  ]) as [number];
  // 2 matches of 2 candidate unigrams, but c = 2 < r = 4: exp(1 − 4/2)
  assert.ok(Math.abs(m1 - Math.exp(-1)) < 1e-9);
});

test('no 4-grams at all: the epsilons give BLEU-4 = (1e-6)^(1/4), not 0', () => {
  // coco-caption quirk: an order with no candidate n-grams contributes
  // (0 + 1e-15) / (0 + 1e-9) = 1e-6 to the geometric mean
  const [b1, b2, b3, b4] = bleuOf([['a b c', ['a b c']]]) as [number, number, number, number];
  assert.ok(Math.abs(b1 - 1) < 1e-9 && Math.abs(b2 - 1) < 1e-9 && Math.abs(b3 - 1) < 1e-9);
  assert.ok(Math.abs(b4 - 1e-6 ** 0.25) < 1e-9, String(b4));
});

test('counts past 255 are clipped exactly: 300 × "a" against a reference with 280', () => {
  const cand = Array.from({ length: 300 }, () => 'a');
  const ref = [...Array.from({ length: 280 }, () => 'a'), 'b'];
  const [b1] = bleu([cand], [[ref]]) as [number];
  // 280 clipped matches of 300; the candidate is longer, so no brevity penalty
  assert.equal(b1, (280 + 1e-15) / (300 + 1e-9));
});
