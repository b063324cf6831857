// AUROC by Mann–Whitney mid-ranks against the pairwise definition, and the
// false-positive threshold rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc, flaggedShare, thresholdAtFpr } from '../../src/defenses/roc.js';
import { fitScorer } from '../../src/defenses/detect.js';
import { Rng } from '../../src/util/rng.js';

/** P(S⁺ > S⁻) + ½ P(S⁺ = S⁻) over every pair. */
function bruteAuroc(pos: number[], neg: number[]): number {
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

test('AUROC equals the pairwise definition, with many ties', () => {
  for (let k = 0; k < 200; k++) {
    const rng = new Rng(1, 'auroc', k);
    const levels = 1 + rng.int(6); // few distinct values: many ties
    const np = 1 + rng.int(30);
    const nn = 1 + rng.int(30);
    const draw = (shift: number): number => Math.floor(rng.float() * levels + shift * rng.float());
    const pos = Array.from({ length: np }, () => draw(1.5));
    const neg = Array.from({ length: nn }, () => draw(0));
    assert.ok(Math.abs(auroc(pos, neg) - bruteAuroc(pos, neg)) < 1e-12, `case ${k}`);
  }
  assert.equal(auroc([2, 3], [0, 1]), 1);
  assert.equal(auroc([0, 1], [2, 3]), 0);
  assert.equal(auroc([1, 1], [1, 1, 1]), 0.5);
  assert.throws(() => auroc([], [1]), /both classes/);
  assert.throws(() => auroc([NaN], [1]), /NaN/);
});

test('the threshold flags at most floor(α·n) calibration scores, and every score above it', () => {
  for (let k = 0; k < 100; k++) {
    const rng = new Rng(2, 'thr', k);
    const n = 1 + rng.int(60);
    const cal = Array.from({ length: n }, () => rng.int(10));
    const alpha = rng.float() * 0.5;
    const t = thresholdAtFpr(cal, alpha);
    const f = flaggedShare(cal, t);
    assert.ok(f.flagged <= Math.floor(alpha * n), `case ${k}: ${f.flagged} > ${Math.floor(alpha * n)}`);
    // the next lower calibration value would flag too many
    const lower = cal.filter((v) => v < t);
    if (lower.length) assert.ok(flaggedShare(cal, Math.max(...lower)).flagged > Math.floor(alpha * n));
  }
  assert.equal(thresholdAtFpr([1, 2, 3, 4], 0), 4);
  assert.throws(() => thresholdAtFpr([1], 1), /\[0, 1\)/);
});

test('mahalanobis score: 0 at the clean mean, grows with standardised distance; consistency score is the mean', () => {
  const clean = [
    [1, 10],
    [3, 30],
    [2, 20],
  ];
  const s = fitScorer('mahalanobis', clean);
  assert.deepEqual(s.fit?.mean, [2, 20]);
  assert.equal(s.score([2, 20]), 0);
  // std 1 and 10: one standard deviation on each axis gives 1
  assert.ok(Math.abs(s.score([3, 30]) - 1) < 1e-12);
  assert.ok(s.score([5, 20]) > s.score([3, 20]));
  assert.equal(fitScorer('consistency', clean).score([0.2, 0.4]), (0.2 + 0.4) / 2);
});
