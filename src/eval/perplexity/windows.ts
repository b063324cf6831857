// Long sequences cut into the windows one forward pass can take.
import type { ScoredSequence } from './encode.js';

/** What happens to sequences longer than maxLength. */
export const OVERFLOW_POLICIES = ['window', 'truncate'] as const;
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

/** One forward pass's worth of a sequence: ids[first..] are scored. */
export interface Window {
  ids: number[];
  first: number;
}

/**
 * Splits a sequence into windows of at most maxLength tokens.
 *
 * - `window` (strided sliding windows, as in Hugging Face's "perplexity of
 *   fixed-length models"): the scored span is cut into chunks of `stride`
 *   tokens (the first chunk runs up to maxLength when the sequence starts
 *   there); each chunk is scored in a window that ends with it and reaches
 *   back as far as maxLength allows. Every scored token is scored exactly once
 *   and sees at least maxLength − stride tokens of context (all of them when
 *   fewer precede it). A prompt longer than the window loses its start.
 * - `truncate`: the first maxLength tokens only (as training cuts examples);
 *   tokens beyond are not scored.
 */
export function windows(seq: ScoredSequence, maxLength: number, stride: number, policy: OverflowPolicy): Window[] {
  const n = seq.ids.length;
  if (n <= maxLength) return [{ ids: seq.ids, first: seq.first }];
  if (policy === 'truncate') return seq.first < maxLength ? [{ ids: seq.ids.slice(0, maxLength), first: seq.first }] : [];
  const out: Window[] = [];
  let s = seq.first;
  let e = Math.min(n, Math.max(maxLength, s + stride));
  for (;;) {
    const start = Math.max(0, e - maxLength);
    out.push({ ids: seq.ids.slice(start, e), first: s - start });
    if (e >= n) break;
    s = e;
    e = Math.min(n, s + stride);
  }
  return out;
}
