import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ciderD } from '../../src/eval/caption/cider.js';
import { Rng } from '../../src/util/rng.js';

const t = (s: string): string[] => (s === '' ? [] : s.split(' '));
const cider = (pairs: [string, string[]][]): { score: number; perImage: Float64Array } =>
  ciderD(
    pairs.map((p) => t(p[0])),
    pairs.map((p) => p[1].map(t)),
  );

test('a perfect two-word match scores 5: orders 1 and 2 give 1, orders 3 and 4 give 0; mean × 10', () => {
  const r = cider([
    ['a b', ['a b']],
    ['c d', ['e f']],
  ]);
  assert.ok(Math.abs(r.perImage[0]! - 5) < 1e-12);
  assert.equal(r.perImage[1], 0, 'no shared n-gram');
  assert.ok(Math.abs(r.score - 2.5) < 1e-12);
});

test('one image: log(N) = 0 makes every weight and the score 0', () => {
  assert.equal(cider([['a b c', ['a b c']]]).score, 0);
});

test('Gaussian length penalty with sigma 6 and cosine per order', () => {
  // image A: cand "x y" vs ref "x y z w". All df = 1, so every weight is log 2.
  // order 1: 2L² / (√2 L · 2L) = 1/√2; order 2: L² / (L · √3 L) = 1/√3; δ = 1 − 3 bigrams = −2
  const r = cider([
    ['x y', ['x y z w']],
    ['p', ['q']],
  ]);
  const expected = ((1 / Math.SQRT2 + 1 / Math.sqrt(3)) * Math.exp(-4 / 72) / 4) * 10;
  assert.ok(Math.abs(r.perImage[0]! - expected) < 1e-12, `${r.perImage[0]} vs ${expected}`);
  assert.ok(Math.abs(r.score - expected / 2) < 1e-12);
});

test('clipping: a repeated word earns no more than the reference has', () => {
  // order 1: cand {a: 2L}, ref {a: L, b: L}: min(2L, L)·L / (2L · √2 L) = 1/(2√2); unclipped it would be 1/√2
  const r = cider([
    ['a a', ['a b']],
    ['c', ['d']],
  ]);
  const expected = (1 / (2 * Math.SQRT2) / 4) * 10;
  assert.ok(Math.abs(r.perImage[0]! - expected) < 1e-12, `${r.perImage[0]} vs ${expected}`);
});

test('scores are averaged over references', () => {
  const r = cider([
    ['a b', ['a b', 'c d']],
    ['e', ['f']],
  ]);
  assert.ok(Math.abs(r.perImage[0]! - 2.5) < 1e-12);
  assert.ok(Math.abs(r.score - 1.25) < 1e-12);
});

test('document frequency over reference sets: an n-gram in every image weighs 0', () => {
  // "a" is in the references of all 3 images: IDF log 3 − log 3 = 0
  const r = cider([
    ['a b', ['a b']],
    ['a c', ['a c']],
    ['z', ['a']],
  ]);
  assert.ok(Math.abs(r.perImage[0]! - 5) < 1e-12);
  assert.ok(Math.abs(r.perImage[1]! - 5) < 1e-12);
  assert.equal(r.perImage[2], 0, 'reference vector is all zero: no division, score 0');
  assert.ok(Math.abs(r.score - 10 / 3) < 1e-12);
  // a candidate-only n-gram (df 0) still gets the full log N weight, lowering the cosine
  const s = cider([
    ['a b x', ['a b']],
    ['c', ['d']],
  ]);
  // order 1: cand {a,b,x} all weight L; ref {a,b}: 2L² / (√3 L · √2 L) = 2/√6; order 2: cand {ab, bx}, ref {ab}: 1/√2; δ = 2 − 1
  const expected = (((2 / Math.sqrt(6) + 1 / Math.SQRT2) * Math.exp(-1 / 72)) / 4) * 10;
  assert.ok(Math.abs(s.perImage[0]! - expected) < 1e-12, `${s.perImage[0]} vs ${expected}`);
});

test('empty candidate and empty reference score 0 without NaN', () => {
  const r = cider([
    ['', ['a b']],
    ['a b', ['']],
    ['a b', ['a b']],
  ]);
  assert.equal(r.perImage[0], 0);
  assert.equal(r.perImage[1], 0);
  assert.ok(Number.isFinite(r.score) && r.score > 0);
});

/**
 * pycocoevalcap's CiderScorer transcribed with string-keyed maps (Python dicts
 * iterate in insertion order, as Maps do): term frequencies per order, df over
 * reference sets, vectors and norms in first-occurrence order, the clipped
 * dot product over the candidate's n-grams, the bigram-count length penalty,
 * numpy's mean of four orders, / references, × 10.
 */
function ciderByDefinition(cands: string[][], refs: string[][][], sigma = 6): number[] {
  const counts = (words: string[]): Map<string, number>[] =>
    [1, 2, 3, 4].map((k) => {
      const m = new Map<string, number>();
      for (let i = 0; i + k <= words.length; i++) {
        const g = words.slice(i, i + k).join(' ');
        m.set(g, (m.get(g) ?? 0) + 1);
      }
      return m;
    });
  const df = new Map<string, number>();
  for (const rs of refs) {
    const seen = new Set<string>();
    for (const r of rs) counts(r).forEach((m, k) => m.forEach((_, g) => seen.add(`${k + 1}:${g}`)));
    for (const key of seen) df.set(key, (df.get(key) ?? 0) + 1);
  }
  const refLen = Math.log(cands.length);
  const vec = (words: string[]): { v: Map<string, number>[]; norm: number[]; length: number } => {
    const v: Map<string, number>[] = [];
    const norm: number[] = [];
    let length = 0;
    counts(words).forEach((m, k) => {
      const w = new Map<string, number>();
      let sq = 0;
      for (const [g, tf] of m) {
        const x = tf * (refLen - Math.log(Math.max(1, df.get(`${k + 1}:${g}`) ?? 0)));
        w.set(g, x);
        sq += x * x;
        if (k === 1) length += tf;
      }
      v.push(w);
      norm.push(Math.sqrt(sq));
    });
    return { v, norm, length };
  };
  return cands.map((c, i) => {
    const h = vec(c);
    const score = [0, 0, 0, 0];
    for (const r of refs[i]!) {
      const rv = vec(r);
      const delta = h.length - rv.length;
      for (let k = 0; k < 4; k++) {
        let val = 0;
        for (const [g, x] of h.v[k]!) {
          const y = rv.v[k]!.get(g) ?? 0;
          val += Math.min(x, y) * y;
        }
        if (h.norm[k] !== 0 && rv.norm[k] !== 0) val /= h.norm[k]! * rv.norm[k]!;
        score[k]! += val * Math.E ** (-(delta ** 2) / (2 * sigma ** 2));
      }
    }
    return (((score[0]! + score[1]! + score[2]! + score[3]!) / 4) / refs[i]!.length) * 10;
  });
}

test('random corpora: the encoded computation gives the same bits as the scorer transcribed with maps', () => {
  const rng = new Rng(7, 'cider-definition');
  const vocab = 'a the dog cat on of red man sits in park two ball'.split(' ');
  const sentence = (): string[] => Array.from({ length: rng.range(0, 12) }, () => vocab[rng.int(vocab.length)]!);
  for (let round = 0; round < 5; round++) {
    const images = rng.range(2, 60);
    const cands = Array.from({ length: images }, sentence);
    const refs = Array.from({ length: images }, () => Array.from({ length: rng.range(1, 5) }, sentence));
    const ours = ciderD(cands, refs);
    const expected = ciderByDefinition(cands, refs);
    for (let i = 0; i < images; i++) assert.equal(ours.perImage[i], expected[i], `round ${round}, image ${i}`);
  }
});

test('counts past 255 (a word said 300 times) give the same bits as the scorer transcribed with maps', () => {
  const rng = new Rng(7, 'cider-long');
  const vocab = 'a the dog cat'.split(' ');
  const long = (): string[] => Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? vocab[rng.int(vocab.length)]! : 'a'));
  const cands = [long(), 'a dog'.split(' '), long()];
  // "a" is missing from the last image's references, so it weighs more than 0
  const refs = [[long(), 'the cat'.split(' ')], [long()], ['the dog'.split(' ')]];
  const ours = ciderD(cands, refs);
  const expected = ciderByDefinition(cands, refs);
  for (let i = 0; i < cands.length; i++) assert.equal(ours.perImage[i], expected[i], `image ${i}`);
});
