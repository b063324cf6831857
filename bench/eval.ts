/**
 * bench:eval — coco-caption BLEU-1..4 + CIDEr-D + ROUGE-L (PTB tokenisation
 * included, as `bdlab eval captions` runs it) over generated predictions with
 * 5 references each, at 1,000, 5,000 and 25,000 images. The captions come
 * from a seeded generator, so every run scores the same corpus. The time must
 * grow linearly: growth_5k_to_25k near 5. Each size is timed in 5 interleaved
 * rounds and keeps its best time.
 *
 * Last stdout line: {"seconds_5k", "growth_5k_to_25k", ...}.
 */
import { evaluateCaptions } from '../src/eval/caption/coco.js';
import { makeCorpus } from './caption-corpus.js';


function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// Rounds interleave the sizes and each size keeps its best time, so a burst
// of load from another process cannot bias one size against the others.
const ROUNDS = 5;
const sizes = [1000, 5000, 25000] as const;
const corpora = new Map(sizes.map((n) => [n, makeCorpus(n, 2024)]));
const seconds: Record<number, number> = {};
let cider5k = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const n of sizes) {
    const c = corpora.get(n)!;
    const t = time(() => {
      const ev = evaluateCaptions(c.candidates, c.references);
      if (n === 5000) cider5k = ev.scores.CIDEr;
    });
    seconds[n] = Math.min(seconds[n] ?? Infinity, t);
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS}: ${sizes.map((n) => `${n} images ${seconds[n]!.toFixed(3)} s`).join(', ')} (best so far)\n`);
}
const s5 = seconds[5000]!;
console.log(
  JSON.stringify({
    seconds_5k: Number(s5.toFixed(4)),
    growth_5k_to_25k: Number((seconds[25000]! / s5).toFixed(3)),
    growth_1k_to_5k: Number((s5 / seconds[1000]!).toFixed(3)),
    seconds_1k: Number(seconds[1000]!.toFixed(4)),
    seconds_25k: Number(seconds[25000]!.toFixed(4)),
    images_per_second_5k: Math.round(5000 / s5),
    cider_5k: Number(cider5k.toFixed(6)),
  }),
);
