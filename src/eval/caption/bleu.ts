import { encodeCorpus, type EncodedCorpus } from './corpus.js';

/**
 * BLEU as coco-caption computes it (pycocoevalcap/bleu, after David Chiang's
 * bleu_scorer.py):
 *
 * - modified precision per order: candidate n-gram counts clipped by the
 *   maximum count of that n-gram in any one reference of the same image;
 * - corpus level: clipped matches and candidate n-gram totals are summed over
 *   all images before dividing (not an average of sentence BLEUs);
 * - effective reference length per image is the "closest" one: the reference
 *   length nearest to the candidate length, the shorter on a tie (Python's
 *   min over (|l − c|, l)); coco-caption always asks for "closest", even for a
 *   single image;
 * - BLEU-n is the geometric mean of orders 1..n, each ratio computed as
 *   (matches + 1e-15) / (total + 1e-9) ("tiny" and "small" in the reference,
 *   so an order with no candidate n-grams gives ~0 rather than 0/0);
 * - brevity penalty exp(1 − r/c) on corpus totals with the same epsilons,
 *   applied when (c + 1e-15) / (r + 1e-9) < 1 — which includes c = r, so a
 *   perfect match scores 1 − 1e-9/r, not exactly 1, as in coco-caption.
 */

const TINY = 1e-15;
const SMALL = 1e-9;

/** Sufficient statistics of one image. */
export interface BleuStats {
  testlen: number;
  reflen: number;
  /** Candidate n-grams per order (max(0, len − k + 1)). */
  guess: number[];
  /** Clipped matches per order. */
  correct: number[];
}

/** Closest reference length to `testlen`, the shorter on a tie. */
export function closestRefLength(testlen: number, refLens: ArrayLike<number>): number {
  if (refLens.length === 0) throw new RangeError('BLEU needs at least one reference');
  let reflen = refLens[0]!;
  for (let q = 0; q < refLens.length; q++) {
    const l = refLens[q]!;
    const d = Math.abs(l - testlen);
    const best = Math.abs(reflen - testlen);
    if (d < best || (d === best && l < reflen)) reflen = l;
  }
  return reflen;
}

/**
 * Statistics of every image of an encoded corpus. One scratch array of
 * zeros, as long as the largest order, holds reference counts for every
 * order and image and is zeroed again after each use (it keeps the memory
 * touched small). The per-order clipping is its own small function, which
 * V8 optimises within the first images.
 */
export function bleuStatsAll(c: EncodedCorpus): BleuStats[] {
  const maxCount = new Int32Array(Math.max(...c.orders.map((o) => o.size)));
  let refLens = new Int32Array(16);
  const out: BleuStats[] = [];
  for (let i = 0; i < c.images; i++) {
    const cand = c.candidate[i]!;
    const r0 = c.refStart[i]!;
    const r1 = c.refEnd[i]!;
    const testlen = c.tokStart[cand + 1]! - c.tokStart[cand]!;
    if (refLens.length < r1 - r0) refLens = new Int32Array(2 * (r1 - r0));
    for (let r = r0; r < r1; r++) refLens[r - r0] = c.tokStart[r + 1]! - c.tokStart[r]!;
    const guess: number[] = [];
    const correct: number[] = [];
    for (let k = 0; k < c.n; k++) {
      guess.push(Math.max(0, testlen - k));
      correct.push(clippedMatches(c, cand, r0, r1, k, maxCount));
    }
    out.push({ testlen, reflen: closestRefLength(testlen, refLens.subarray(0, r1 - r0)), guess, correct });
  }
  return out;
}

/**
 * Candidate `cand`'s order-k n-grams, each counted at most as often as it
 * occurs in any one of the references r0..r1−1. `maxCount` is zero on entry
 * and on return.
 */
function clippedMatches(c: EncodedCorpus, cand: number, r0: number, r1: number, k: number, maxCount: Int32Array): number {
  const { start, ids, counts: cnt } = c.orders[k]!;
  // the most times each n-gram occurs in any one reference
  for (let r = r0; r < r1; r++) {
    for (let j = start[r]!, e = start[r + 1]!; j < e; j++) {
      if (cnt[j]! > maxCount[ids[j]!]!) maxCount[ids[j]!] = cnt[j]!;
    }
  }
  let hits = 0;
  for (let j = start[cand]!, e = start[cand + 1]!; j < e; j++) hits += Math.min(maxCount[ids[j]!]!, cnt[j]!);
  for (let r = r0; r < r1; r++) for (let j = start[r]!, e = start[r + 1]!; j < e; j++) maxCount[ids[j]!] = 0;
  return hits;
}

/** Corpus BLEU-1..n from per-image statistics. */
export function corpusBleu(stats: readonly BleuStats[], n = 4): number[] {
  let testlen = 0;
  let reflen = 0;
  const guess = new Array<number>(n).fill(0);
  const correct = new Array<number>(n).fill(0);
  for (const s of stats) {
    testlen += s.testlen;
    reflen += s.reflen;
    for (let k = 0; k < n; k++) {
      guess[k]! += s.guess[k]!;
      correct[k]! += s.correct[k]!;
    }
  }
  const ratio = (testlen + TINY) / (reflen + SMALL);
  const out: number[] = [];
  for (let nn = 1; nn <= n; nn++) {
    let bleu = 1;
    for (let k = 0; k < nn; k++) bleu *= (correct[k]! + TINY) / (guess[k]! + SMALL);
    let b = bleu ** (1 / nn);
    if (ratio < 1) b *= Math.exp(1 - 1 / ratio);
    out.push(b);
  }
  return out;
}

/** Corpus BLEU-1..4 of tokenised candidates against tokenised references. */
export function bleu(candidates: readonly (readonly string[])[], references: readonly (readonly (readonly string[])[])[]): number[] {
  return corpusBleu(bleuStatsAll(encodeCorpus(candidates, references)));
}
