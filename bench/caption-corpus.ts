// A seeded caption corpus for the caption-metric benchmarks: 5 references and
// one candidate per image, over a Zipf-distributed vocabulary of made-up words
// with English function words, so scores are neither 0 nor 1.
import { Rng } from '../src/util/rng.js';

function prng(seed: number, purpose: string): () => number {
  const r = new Rng(seed, purpose);
  return () => r.float();
}

const SYLLABLES = ['ba', 'ko', 'ri', 'te', 'mu', 'sa', 'lo', 'ne', 'di', 'pa', 'gu', 'fe', 'zo', 'hi', 'ca', 'vu'];
const FUNCTION_WORDS = ['a', 'the', 'of', 'on', 'in', 'with', 'and', 'is', 'at', 'near', 'two', 'some'];

function makeWords(rand: () => number, count: number): string[] {
  const seen = new Set<string>();
  while (seen.size < count) {
    const k = 2 + Math.floor(rand() * 3);
    let w = '';
    for (let i = 0; i < k; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)]!;
    seen.add(w);
  }
  return [...seen];
}

/** A Zipf-like pick: index ~ exp(uniform · ln(n)). */
function zipf(rand: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(Math.exp(rand() * Math.log(n))) - 1);
}

export interface Corpus {
  candidates: string[];
  references: string[][];
}

export function makeCorpus(images: number, seed: number): Corpus {
  const rand = prng(seed, 'captions');
  const vocab = makeWords(prng(12345, 'vocabulary'), 3000);
  const candidates: string[] = [];
  const references: string[][] = [];
  const sentence = (scene: string[]): string => {
    const len = 8 + Math.floor(rand() * 7);
    const words: string[] = [];
    for (let i = 0; i < len; i++) {
      const r = rand();
      if (r < 0.35) words.push(FUNCTION_WORDS[Math.floor(rand() * FUNCTION_WORDS.length)]!);
      else if (r < 0.8) words.push(scene[Math.floor(rand() * scene.length)]!);
      else words.push(vocab[zipf(rand, vocab.length)]!);
      if (rand() < 0.05) words.push(',');
    }
    const s = words.join(' ').replace(/ ,/g, ',');
    return s.charAt(0).toUpperCase() + s.slice(1) + (rand() < 0.7 ? '.' : '');
  };
  for (let i = 0; i < images; i++) {
    const scene = Array.from({ length: 6 }, () => vocab[zipf(rand, vocab.length)]!);
    references.push(Array.from({ length: 5 }, () => sentence(scene)));
    candidates.push(sentence(scene));
  }
  return { candidates, references };
}
