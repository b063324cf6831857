import { UserError } from '../../util/errors.js';

/**
 * Key-word scorers for MABA's text trigger: which words of an instruction the
 * trigger symbols go before. Pluggable: a scorer may look at the whole dataset
 * first (`observe`), then scores the words of one text. Model-based scorers
 * (attribution of the clean answer to input tokens) can register later.
 */
export interface KeywordScorer {
  readonly name: string;
  observe?(words: readonly string[]): void;
  /** One score per word (higher = more important); NaN or -Infinity: never chosen. */
  score(words: readonly string[]): number[];
}

const STOPWORDS = new Set(
  (
    'a an the and or but if then else of to in on at by for with from into onto about as is are was were be been being ' +
    'this that these those it its they them their there here he she his her we our you your i me my mine what which who whom ' +
    'whose when where why how do does did done can could should would will shall may might must not no yes so such than too very ' +
    'just also only any some all each every both few more most other own same up down out over under again further once ' +
    'please give provide write describe explain list tell make use image picture photo shown'
  ).split(' '),
);

/** The comparable form of a word: lower case, letters and digits only. */
function normWord(w: string): string {
  return w.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

function candidate(n: string): boolean {
  return n.length >= 3 && !STOPWORDS.has(n) && /\p{L}/u.test(n);
}

/** IDF over the dataset: idf(w) = ln((N + 1) / (df(w) + 1)) + 1; stop words and short words are never chosen. */
export class IdfScorer implements KeywordScorer {
  readonly name = 'idf';
  private readonly df = new Map<string, number>();
  private docs = 0;

  observe(words: readonly string[]): void {
    this.docs++;
    const seen = new Set<string>();
    for (const w of words) {
      const n = normWord(w);
      if (!candidate(n) || seen.has(n)) continue;
      seen.add(n);
      this.df.set(n, (this.df.get(n) ?? 0) + 1);
    }
  }

  idf(word: string): number {
    return Math.log((this.docs + 1) / ((this.df.get(normWord(word)) ?? 0) + 1)) + 1;
  }

  score(words: readonly string[]): number[] {
    return words.map((w) => (candidate(normWord(w)) ? this.idf(w) : -Infinity));
  }
}

/** Longer words first (a dataset-free fallback). */
class LengthScorer implements KeywordScorer {
  readonly name = 'length';
  score(words: readonly string[]): number[] {
    return words.map((w) => {
      const n = normWord(w);
      return candidate(n) ? n.length : -Infinity;
    });
  }
}

const scorers = new Map<string, () => KeywordScorer>([
  ['idf', () => new IdfScorer()],
  ['length', () => new LengthScorer()],
]);

export function registerKeywordScorer(name: string, make: () => KeywordScorer): void {
  if (scorers.has(name)) throw new Error(`keyword scorer ${name} registered twice`);
  scorers.set(name, make);
}

export function keywordScorerNames(): string[] {
  return [...scorers.keys()];
}

export function createKeywordScorer(name: string): KeywordScorer {
  const make = scorers.get(name);
  if (!make) throw new UserError(`unknown keyword scorer "${name}"; known: ${keywordScorerNames().join(', ')}`);
  return make();
}

/** Indices of the k best-scoring words (ties: the earlier word), ascending. */
export function topKeywords(scores: readonly number[], k: number): number[] {
  const idx = scores.map((s, i) => [s, i] as [number, number]).filter(([s]) => Number.isFinite(s));
  idx.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return idx
    .slice(0, k)
    .map(([, i]) => i)
    .sort((a, b) => a - b);
}
