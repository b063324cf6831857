import { npMean } from '../stats/pairwise-sum.js';
import { encodeCorpus, type EncodedCorpus } from './corpus.js';

/**
 * ROUGE-L as coco-caption computes it (pycocoevalcap/rouge, Lin 2004):
 * the longest common subsequence with each reference; precision = LCS / |c|,
 * recall = LCS / |r|; the maxima of precision and of recall are taken over
 * the references *separately* (they may come from different references);
 * F = (1 + β²) P R / (R + β² P) with β = 1.2, and 0 if P or R is 0.
 * The corpus score is the mean over images.
 *
 * Quirk kept: the reference splits the tokenised string on " ", so an empty
 * caption is one empty token, not zero tokens; an empty candidate then scores
 * 0 against non-empty references and 1 against an empty one.
 */
const ROUGE_BETA = 1.2;

// DP rows reused across calls: ROUGE-L runs once per (image, reference).
let prevRow = new Uint32Array(64);
let curRow = new Uint32Array(64);

/** Length of the longest common subsequence (two-row dynamic programme). */
export function lcsLength<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  if (a.length < b.length) [a, b] = [b, a];
  if (prevRow.length <= b.length) {
    prevRow = new Uint32Array(2 * b.length + 2);
    curRow = new Uint32Array(2 * b.length + 2);
  }
  let prev = prevRow;
  let cur = curRow;
  prev.fill(0, 0, b.length + 1);
  cur[0] = 0;
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = ai === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/**
 * ROUGE-L of one candidate against its references: token strings, or token
 * ids of an encoded corpus. `empty` stands for Python's `"".split(" ")`,
 * which is `[""]`.
 */
export function rougeL<T>(candidate: ArrayLike<T>, references: readonly ArrayLike<T>[], empty: T, beta = ROUGE_BETA): number {
  if (references.length === 0) throw new RangeError('ROUGE-L needs at least one reference');
  const asSplit = (t: ArrayLike<T>): ArrayLike<T> => (t.length === 0 ? [empty] : t);
  const c = asSplit(candidate);
  let precMax = 0;
  let recMax = 0;
  for (const ref of references) {
    const r = asSplit(ref);
    const lcs = lcsLength(r, c);
    precMax = Math.max(precMax, lcs / c.length);
    recMax = Math.max(recMax, lcs / r.length);
  }
  return fScore(precMax, recMax, beta);
}

/** F = (1 + β²) P R / (R + β² P), and 0 if P or R is 0. */
function fScore(precMax: number, recMax: number, beta: number): number {
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + beta ** 2) * precMax * recMax) / (recMax + beta ** 2 * precMax);
}

/**
 * Per-image ROUGE-L of an encoded corpus and their mean. A candidate of 1–32
 * tokens takes the bit-parallel LCS (lcsBits) against each of its non-empty
 * references, with the candidate's match masks built once per image; other
 * pairs take rougeL's dynamic programme. Both give the exact LCS length, so
 * the scores are the same bits.
 */
export function rougeLEncoded(c: EncodedCorpus): { score: number; perImage: Float64Array } {
  const perImage = new Float64Array(c.images);
  const masks = new Int32Array(c.orders[0]!.size); // token id → bits of the candidate's positions holding it
  const { tokens, tokStart } = c;
  for (let i = 0; i < c.images; i++) {
    const cs = c.candidate[i]!;
    const c0 = tokStart[cs]!;
    const cl = tokStart[cs + 1]! - c0;
    if (cl === 0 || cl > 32) {
      perImage[i] = rougeLSlow(c, i);
      continue;
    }
    for (let q = 0; q < cl; q++) masks[tokens[c0 + q]!]! |= 1 << q;
    let precMax = 0;
    let recMax = 0;
    for (let r = c.refStart[i]!; r < c.refEnd[i]!; r++) {
      const r0 = tokStart[r]!;
      const rl = tokStart[r + 1]! - r0;
      // an empty reference is Python's [""]: one token that matches nothing here
      const lcs = rl === 0 ? 0 : lcsBits(masks, cl, tokens, r0, rl);
      precMax = Math.max(precMax, lcs / cl);
      recMax = Math.max(recMax, lcs / Math.max(rl, 1));
    }
    for (let q = 0; q < cl; q++) masks[tokens[c0 + q]!] = 0;
    perImage[i] = fScore(precMax, recMax, ROUGE_BETA);
  }
  return { score: npMean(perImage), perImage };
}

/** Image i's ROUGE-L through rougeL (an empty candidate, or one longer than 32 tokens). */
function rougeLSlow(c: EncodedCorpus, i: number): number {
  const sentence = (s: number): Int32Array => c.tokens.subarray(c.tokStart[s]!, c.tokStart[s + 1]!);
  const refs: Int32Array[] = [];
  for (let r = c.refStart[i]!; r < c.refEnd[i]!; r++) refs.push(sentence(r));
  return rougeL(sentence(c.candidate[i]!), refs, -1); // token ids are >= 0: -1 is the empty token
}

/**
 * LCS length of a sequence A of m ≤ 32 symbols, given as match masks
 * (`masks[x]` has bit q set where A[q] = x), and seq[start, start + len), in
 * one pass of word operations per symbol of the second sequence (Hyyrö 2004,
 * "Bit-parallel LCS-length computation revisited"): V starts as all ones and
 * each symbol y does U = V & masks[y], V = (V + U) | (V − U); the LCS length
 * is the number of zero bits among V's low m bits. Arithmetic is mod 2³²
 * (int32 wrap-around), which is the word arithmetic the method assumes.
 */
export function lcsBits(masks: Int32Array, m: number, seq: Int32Array, start: number, len: number): number {
  let v = -1;
  for (let j = start; j < start + len; j++) {
    const u = v & masks[seq[j]!]!;
    v = (v + u) | (v - u);
  }
  let zeros = ~v & (m === 32 ? -1 : (1 << m) - 1);
  // population count of the low m bits
  zeros -= (zeros >>> 1) & 0x55555555;
  zeros = (zeros & 0x33333333) + ((zeros >>> 2) & 0x33333333);
  return (Math.imul((zeros + (zeros >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Corpus ROUGE-L of tokenised candidates against tokenised references. */
export function corpusRougeL(
  candidates: readonly (readonly string[])[],
  references: readonly (readonly (readonly string[])[])[],
): { score: number; perImage: Float64Array } {
  return rougeLEncoded(encodeCorpus(candidates, references));
}
