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
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + beta ** 2) * precMax * recMax) / (recMax + beta ** 2 * precMax);
}

/** Per-image ROUGE-L of an encoded corpus and their mean. */
export function rougeLEncoded(c: EncodedCorpus): { score: number; perImage: Float64Array } {
  const perImage = new Float64Array(c.images);
  const sentence = (s: number): Int32Array => c.tokens.subarray(c.tokStart[s]!, c.tokStart[s + 1]!);
  for (let i = 0; i < c.images; i++) {
    const refs: Int32Array[] = [];
    for (let r = c.refStart[i]!; r < c.refEnd[i]!; r++) refs.push(sentence(r));
    perImage[i] = rougeL(sentence(c.candidate[i]!), refs, -1); // token ids are >= 0: -1 is the empty token
  }
  return { score: npMean(perImage), perImage };
}

/** Corpus ROUGE-L of tokenised candidates against tokenised references. */
export function corpusRougeL(
  candidates: readonly (readonly string[])[],
  references: readonly (readonly (readonly string[])[])[],
): { score: number; perImage: Float64Array } {
  return rougeLEncoded(encodeCorpus(candidates, references));
}
