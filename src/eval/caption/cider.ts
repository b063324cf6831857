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

/** df over the reference sets of an encoded corpus, per order. */
function documentFrequency(c: EncodedCorpus): Int32Array[] {
  const { gramStart: gs, gramIds: ids, n } = c;
  return c.ngramCounts.map((count, k) => {
    const df = new Int32Array(count);
    const lastImage = new Int32Array(count).fill(-1);
    for (let i = 0; i < c.images; i++) {
      for (let r = c.refStart[i]!; r < c.refEnd[i]!; r++) {
        for (let j = gs[r * n + k]!, e = gs[r * n + k + 1]!; j < e; j++) {
          const id = ids[j]!;
          if (lastImage[id] !== i) {
            lastImage[id] = i;
            df[id]!++;
          }
        }
      }
    }
    return df;
  });
}

/** Per-image CIDEr-D of an encoded corpus and their mean. */
export function ciderDEncoded(c: EncodedCorpus, opts: CiderOptions = {}): { score: number; perImage: Float64Array } {
  const sigma = opts.sigma ?? 6;
  const { gramStart: gs, gramIds: ids, gramCounts: cnt, n } = c;
  const df = documentFrequency(c);
  const refLen = Math.log(c.images);
  // TF-IDF weight of every (sentence, n-gram) entry, each order's norm and the
  // bigram count of every sentence, computed once.
  // one logarithm per distinct n-gram rather than one per occurrence
  const idf = df.map((d) => {
    const w = new Float64Array(d.length);
    for (let g = 0; g < d.length; g++) w[g] = refLen - Math.log(Math.max(1, d[g]!));
    return w;
  });
  const weight = new Float64Array(ids.length);
  const sentences = c.tokStart.length - 1;
  const norm = new Float64Array(sentences * n);
  const length = new Int32Array(sentences);
  for (let s = 0; s < sentences; s++) {
    for (let k = 0; k < n; k++) {
      let sq = 0;
      const idfK = idf[k]!;
      for (let j = gs[s * n + k]!, e = gs[s * n + k + 1]!; j < e; j++) {
        const v = cnt[j]! * idfK[ids[j]!]!;
        weight[j] = v;
        sq += v * v;
        if (k === 1) length[s]! += cnt[j]!;
      }
      norm[s * n + k] = Math.sqrt(sq);
    }
  }
  const refWeights = c.ngramCounts.map((m) => new Float64Array(m)); // scratch, kept zero
  const perImage = new Float64Array(c.images);
  const acc = new Float64Array(n);
  for (let i = 0; i < c.images; i++) {
    const cs = c.candidate[i]!;
    const r0 = c.refStart[i]!;
    const r1 = c.refEnd[i]!;
    acc.fill(0);
    for (let r = r0; r < r1; r++) {
      const delta = length[cs]! - length[r]!;
      const penalty = Math.E ** (-(delta ** 2) / (2 * sigma ** 2));
      for (let k = 0; k < n; k++) {
        const refWeight = refWeights[k]!;
        const rb = gs[r * n + k]!;
        const re = gs[r * n + k + 1]!;
        for (let j = rb; j < re; j++) refWeight[ids[j]!] = weight[j]!;
        let val = 0;
        for (let j = gs[cs * n + k]!, e = gs[cs * n + k + 1]!; j < e; j++) {
          const rv = refWeight[ids[j]!]!;
          val += Math.min(weight[j]!, rv) * rv;
        }
        for (let j = rb; j < re; j++) refWeight[ids[j]!] = 0;
        const nc = norm[cs * n + k]!;
        const nr = norm[r * n + k]!;
        if (nc !== 0 && nr !== 0) val /= nc * nr;
        acc[k]! += val * penalty;
      }
    }
    let sum = 0;
    for (let k = 0; k < n; k++) sum += acc[k]!;
    let score = sum / n;
    score /= r1 - r0;
    score *= 10;
    perImage[i] = score;
  }
  return { score: npMean(perImage), perImage };
}

/** CIDEr-D of tokenised candidates against tokenised references. */
export function ciderD(
  candidates: readonly (readonly string[])[],
  references: readonly (readonly (readonly string[])[])[],
  opts: CiderOptions = {},
): { score: number; perImage: Float64Array } {
  return ciderDEncoded(encodeCorpus(candidates, references), opts);
}
