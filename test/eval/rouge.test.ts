import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusRougeL, lcsBits, lcsLength, rougeL } from '../../src/eval/caption/rouge.js';
import { Rng } from '../../src/util/rng.js';

const t = (s: string): string[] => (s === '' ? [] : s.split(' '));
const rouge = (c: string, refs: string[]): number => rougeL(t(c), refs.map(t), '');

test('longest common subsequence', () => {
  assert.equal(lcsLength(t('a b c d'), t('a c d e f')), 3);
  assert.equal(lcsLength(t('a b'), t('b a')), 1, 'a tie: either order, length 1');
  assert.equal(lcsLength(t('a a a'), t('a a')), 2, 'repeats');
  assert.equal(lcsLength([], t('a')), 0);
  assert.equal(lcsLength(t('x y z'), t('p q')), 0);
  assert.equal(lcsLength(t('a b c d e f g'), t('g f e d c b a')), 1);
});

test('ROUGE-L with beta 1.2, worked by hand', () => {
  // LCS 3: P = 3/4, R = 3/5, F = 2.44·P·R / (R + 1.44·P)
  const p = 3 / 4;
  const r = 3 / 5;
  assert.ok(Math.abs(rouge('a b c d', ['a c d e f']) - (2.44 * p * r) / (r + 1.44 * p)) < 1e-12);
  assert.equal(rouge('a b c', ['a b c']), 1);
  assert.equal(rouge('a b c', ['x y']), 0);
});

test('max precision and max recall come from the references separately', () => {
  // ref 1 gives P = 1 (R = 3/8), ref 2 gives R = 1 (P = 2/3): F uses P = 1 and R = 1
  assert.equal(rouge('a b c', ['a b c d e f g h', 'a b']), 1);
});

test('empty captions: Python splits "" into [""]', () => {
  assert.equal(rouge('', ['a b']), 0);
  assert.equal(rouge('', ['']), 1, 'two empty captions share the empty token');
  assert.equal(rouge('a b', ['']), 0);
});

test('corpus ROUGE-L is the mean over images', () => {
  const r = corpusRougeL([t('a b c'), t('x')], [[t('a b c')], [t('y')]]);
  assert.equal(r.score, 0.5);
  assert.deepEqual([...r.perImage], [1, 0]);
});

test('the bit-parallel LCS equals the dynamic programme (2,000 seeded pairs, 1–32 symbols)', () => {
  const rng = new Rng(7);
  const masks = new Int32Array(8);
  for (let trial = 0; trial < 2000; trial++) {
    const alphabet = 1 + rng.int(6);
    const a = Int32Array.from({ length: 1 + rng.int(32) }, () => rng.int(alphabet));
    const b = Int32Array.from({ length: rng.int(41) }, () => rng.int(alphabet));
    masks.fill(0);
    a.forEach((x, q) => (masks[x]! |= 1 << q));
    // b sits inside a longer array, as a sentence does in the corpus
    const seq = Int32Array.from([5, ...b, 6]);
    assert.equal(lcsBits(masks, a.length, seq, 1, b.length), lcsLength(a, b), `${a.join(',')} / ${b.join(',')}`);
  }
});

test('corpus ROUGE-L (bit-parallel where it applies) gives the same bits as rougeL image by image', () => {
  const rng = new Rng(11);
  const words = ['a', 'b', 'c', 'd', 'e'];
  const sentence = (): string[] => {
    const kind = rng.int(10);
    const len = kind === 0 ? 0 : kind === 1 ? 33 + rng.int(8) : 1 + rng.int(32);
    return Array.from({ length: len }, () => words[rng.int(words.length)]!);
  };
  const candidates = Array.from({ length: 300 }, sentence);
  const references = candidates.map(() => Array.from({ length: 1 + rng.int(5) }, sentence));
  const r = corpusRougeL(candidates, references);
  assert.ok(candidates.some((c) => c.length === 0) && candidates.some((c) => c.length > 32), 'the corpus has both fallbacks');
  candidates.forEach((c, i) => assert.equal(r.perImage[i], rougeL(c, references[i]!, ''), `image ${i}`));
});
