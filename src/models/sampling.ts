// Choosing the next token from one row of logits: greedy argmax, or sampling
// after temperature, top-k and top-p (nucleus) filtering, applied in that
// order as Hugging Face's generate does. Sampling draws from the project's
// seeded generator (src/util/rng.ts), so the same seed gives the same text on
// every run and device.
import type { Rng } from '../util/rng.js';

export interface SamplingOptions {
  /** false (default): greedy. */
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
}

export function argmax(row: ArrayLike<number>, start = 0, n = row.length): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = row[start + i] as number;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

export function validateSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature > 0)) throw new RangeError(`temperature must be > 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new RangeError(`top-k must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new RangeError(`top-p must be in (0, 1], got ${o.topP}`);
}

/** The next token id for logits row[start .. start + n). */
export function chooseToken(row: ArrayLike<number>, start: number, n: number, o: SamplingOptions, rng: Rng): number {
  if (!o.doSample) return argmax(row, start, n);
  const t = o.temperature ?? 1;
  const idx: number[] = [];
  const logit: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = row[start + i] as number;
    if (v > -Infinity) {
      idx.push(i);
      logit.push(v / t);
    }
  }
  let order = idx.map((_, j) => j).sort((a, b) => (logit[b] as number) - (logit[a] as number));
  if (o.topK && o.topK > 0 && o.topK < order.length) order = order.slice(0, o.topK);
  const maxL = logit[order[0] as number] as number;
  let probs = order.map((j) => Math.exp((logit[j] as number) - maxL));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  if (o.topP !== undefined && o.topP < 1) {
    // keep the smallest prefix whose mass reaches top_p (at least one token)
    let cum = 0;
    let keepN = 0;
    while (keepN < probs.length) {
      cum += probs[keepN] as number;
      keepN++;
      if (cum >= o.topP) break;
    }
    order = order.slice(0, keepN);
    probs = probs.slice(0, keepN);
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
  }
  let u = rng.float();
  for (let k = 0; k < probs.length; k++) {
    u -= probs[k] as number;
    if (u < 0) return idx[order[k] as number] as number;
  }
  return idx[order[order.length - 1] as number] as number;
}
