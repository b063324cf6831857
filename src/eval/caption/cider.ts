import { npMean } from '../stats/pairwise-sum.js';
import { encodeCorpus, type EncodedCorpus } from './corpus.js';

/**
 * CIDEr-D as coco-caption computes it (pycocoevalcap/cider, Vedantam et al.
 * 2015 with the "-D" changes):
 *
 * - n = 1..4, each order its own TF-IDF vector; TF is the raw count;
 * - document frequency df(g) = number of images whose reference set contains
 *   g (candidates do not count), IDF = log(N) − log(max(1, df)), with N the
 *   number of images evaluated (so with N = 1 every weight is 0 and so is
 *   CIDEr); an n-gram in no reference gets the full log(N);
 * - similarity per order: Σ_g min(v_c[g], v_r[g]) · v_r[g] / (‖v_c‖ ‖v_r‖)
 *   — the candidate weight is clipped by the reference's, so repeating a word
 *   does not pay; a zero norm leaves the dot product undivided (it is 0);
 * - Gaussian length penalty exp(−δ² / (2σ²)), σ = 6, where δ is the difference
 *   of the two sentences' *bigram* counts: the reference code accumulates its
 *   "length" at n-gram index 1, which counts bigrams (len − 1 for a non-empty
 *   sentence, 0 for an empty or one-word one). Kept as is;
 * - per image: mean over the 4 orders, summed over references, divided by the
 *   number of references, × 10; corpus CIDEr-D is the mean over images.
 */
export interface CiderOptions {
  sigma?: number;
}

/**
 * Per-image CIDEr-D of an encoded corpus and their mean.
 *
 * One order at a time: its document frequencies, IDF weights, sentence norms
 * and dot products, with scratch arrays sized for the largest order and
 * reused. Weights are computed where they are used rather than stored per
 * n-gram occurrence. This keeps the memory touched to a few megabytes at any
 * corpus size — first-touch page faults were a large share of the time — and
 * adds every term in the same order as coco-caption (per image and order over
 * the references, then over the orders), so the results are the same bits.
 *
 * Each pass is its own small function, called once per order: V8 optimises
 * a small function after its first call and runs the other orders in that
 * code, where one function holding every loop ran much of its work
 * unoptimised (each loop waited for its own on-stack replacement, and
 * optimised code met loops it had no feedback for and deoptimised).
 */
export function ciderDEncoded(c: EncodedCorpus, opts: CiderOptions = {}): { score: number; perImage: Float64Array } {
  const sigma = opts.sigma ?? 6;
  const n = c.n;
  const refLen = Math.log(c.images);
  const largest = Math.max(...c.orders.map((o) => o.size));
  const idf = new Float64Array(largest); // document frequency first, then the IDF weight
  // by n-gram id: the last image whose references counted it (document
  // frequencies), then where it sits in the reference being compared + 1
  // (similarities; kept zero between references)
  const scratch = new Int32Array(largest);
  const norm = new Float64Array(c.tokStart.length - 1);
  const penalty = lengthPenalties(c, sigma);
  const acc = new Float64Array(c.images * n); // per image and order: the sum over references
  for (let k = 0; k < n; k++) {
    const count = c.orders[k]!.size;
    idf.fill(0, 0, count);
    scratch.fill(-1, 0, count);
    documentFrequencies(c, k, idf, scratch);
    idfWeights(idf, count, refLen);
    sentenceNorms(c, k, idf, norm);
    scratch.fill(0, 0, count);
    addSimilarities(c, k, idf, norm, penalty, scratch, acc);
  }
  const perImage = new Float64Array(c.images);
  for (let i = 0; i < c.images; i++) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += acc[i * n + k]!;
    let score = sum / n;
    score /= c.refEnd[i]! - c.refStart[i]!;
    score *= 10;
    perImage[i] = score;
  }
  return { score: npMean(perImage), perImage };
}

/** df(g) of order k into `df`: images whose reference set contains g; candidates do not count. */
function documentFrequencies(c: EncodedCorpus, k: number, df: Float64Array, lastImage: Int32Array): void {
  const { start, ids } = c.orders[k]!;
  for (let i = 0; i < c.images; i++) {
    for (let r = c.refStart[i]!; r < c.refEnd[i]!; r++) {
      for (let j = start[r]!, e = start[r + 1]!; j < e; j++) {
        const id = ids[j]!;
        if (lastImage[id] !== i) {
          lastImage[id] = i;
          df[id]!++;
        }
      }
    }
  }
}

/** Turns document frequencies into IDF weights in place: one logarithm per distinct n-gram, not per occurrence. */
function idfWeights(idf: Float64Array, count: number, refLen: number): void {
  for (let g = 0; g < count; g++) idf[g] = refLen - Math.log(Math.max(1, idf[g]!));
}

/** ‖v_s‖ of every sentence's order-k TF-IDF vector. */
function sentenceNorms(c: EncodedCorpus, k: number, idf: Float64Array, norm: Float64Array): void {
  const { start, ids, counts: cnt } = c.orders[k]!;
  for (let s = 0; s < norm.length; s++) {
    let sq = 0;
    for (let j = start[s]!, e = start[s + 1]!; j < e; j++) {
      const v = cnt[j]! * idf[ids[j]!]!;
      sq += v * v;
    }
    norm[s] = Math.sqrt(sq);
  }
}

/**
 * Adds each image's order-k similarities to its references, length-penalised,
 * into acc[i·n + k]. `at` is zero on entry and on return; while a reference
 * is compared it maps each of its n-grams to its position + 1, so a
 * reference weight is computed where the candidate needs it (the same
 * product as a stored weight, so the same bits) and no array of weights by
 * id is needed.
 */
function addSimilarities(
  c: EncodedCorpus,
  k: number,
  idf: Float64Array,
  norm: Float64Array,
  penalty: Float64Array,
  at: Int32Array,
  acc: Float64Array,
): void {
  const { start, ids, counts: cnt } = c.orders[k]!;
  const n = c.n;
  for (let i = 0; i < c.images; i++) {
    const cs = c.candidate[i]!;
    const cb = start[cs]!;
    const ce = start[cs + 1]!;
    const nc = norm[cs]!;
    for (let r = c.refStart[i]!; r < c.refEnd[i]!; r++) {
      const rb = start[r]!;
      const re = start[r + 1]!;
      for (let j = rb; j < re; j++) at[ids[j]!] = j + 1;
      let val = 0;
      for (let j = cb; j < ce; j++) {
        const id = ids[j]!;
        const p = at[id]!;
        // an n-gram the reference lacks adds min(w, 0) · 0 = 0
        if (p === 0) continue;
        const rv = cnt[p - 1]! * idf[id]!;
        val += Math.min(cnt[j]! * idf[id]!, rv) * rv;
      }
      for (let j = rb; j < re; j++) at[ids[j]!] = 0;
      const nr = norm[r]!;
      if (nc !== 0 && nr !== 0) val /= nc * nr;
      acc[i * n + k]! += val * penalty[r]!;
    }
  }
}

/** The Gaussian length penalty of every reference sentence against its image's candidate (bigram counts, see above). */
function lengthPenalties(c: EncodedCorpus, sigma: number): Float64Array {
  const bigrams = (s: number): number => (c.n > 1 ? Math.max(0, c.tokStart[s + 1]! - c.tokStart[s]! - 1) : 0);
  const penalty = new Float64Array(c.tokStart.length - 1);
  for (let i = 0; i < c.images; i++) {
    const lc = bigrams(c.candidate[i]!);
    for (let r = c.refStart[i]!; r < c.refEnd[i]!; r++) {
      const delta = lc - bigrams(r);
      penalty[r] = Math.E ** (-(delta ** 2) / (2 * sigma ** 2));
    }
  }
  return penalty;
}

/** CIDEr-D of tokenised candidates against tokenised references. */
export function ciderD(
  candidates: readonly (readonly string[])[],
  references: readonly (readonly (readonly string[])[])[],
  opts: CiderOptions = {},
): { score: number; perImage: Float64Array } {
  return ciderDEncoded(encodeCorpus(candidates, references), opts);
}
