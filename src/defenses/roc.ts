// Scores of a detector against labels: exact AUROC and an operating threshold.
//
// Contract:
//   AUROC = P(S⁺ > S⁻) + ½ P(S⁺ = S⁻) over all (positive, negative) pairs —
//   computed exactly as the Mann–Whitney U statistic from mid-ranks of the
//   pooled scores (ties get the average of the ranks they span):
//   U = Σ ranks of positives − n⁺(n⁺ + 1)/2,  AUROC = U / (n⁺ n⁻).
//   A threshold τ at false-positive rate α on calibration scores s_1..s_n
//   (negatives only): with m = floor(α n) and s sorted from the largest,
//   τ = s_(m+1), so at most m calibration scores lie above it; an input is
//   flagged when its score is strictly greater than τ.

/** Exact AUROC of positives against negatives (higher score = more positive). */
export function auroc(positives: readonly number[], negatives: readonly number[]): number {
  const np = positives.length;
  const nn = negatives.length;
  if (np === 0 || nn === 0) throw new RangeError(`auroc needs both classes (positives ${np}, negatives ${nn})`);
  const pooled = [...positives.map((s) => ({ s, pos: true })), ...negatives.map((s) => ({ s, pos: false }))];
  if (pooled.some((x) => Number.isNaN(x.s))) throw new RangeError('auroc: a score is NaN');
  pooled.sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < pooled.length; ) {
    let j = i;
    while (j + 1 < pooled.length && (pooled[j + 1] as { s: number }).s === (pooled[i] as { s: number }).s) j++;
    const mid = (i + j) / 2 + 1; // ranks i+1..j+1 averaged
    for (let k = i; k <= j; k++) if ((pooled[k] as { pos: boolean }).pos) rankSum += mid;
    i = j + 1;
  }
  return (rankSum - (np * (np + 1)) / 2) / (np * nn);
}

/** The threshold that flags at most floor(α · n) of the calibration scores (flag when score > τ). */
export function thresholdAtFpr(calibration: readonly number[], alpha: number): number {
  if (calibration.length === 0) throw new RangeError('threshold: no calibration scores');
  if (!(alpha >= 0 && alpha < 1)) throw new RangeError(`false-positive rate must be in [0, 1), got ${alpha}`);
  const desc = [...calibration].sort((a, b) => b - a);
  return desc[Math.floor(alpha * desc.length)] as number;
}

/** Share of scores strictly above the threshold. */
export function flaggedShare(scores: readonly number[], threshold: number): { flagged: number; n: number } {
  return { flagged: scores.filter((s) => s > threshold).length, n: scores.length };
}
