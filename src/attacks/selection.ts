import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

/**
 * Stage 2 of poisoning: which records are held out for test, poisoned, made
 * negatives, or put in the BackdoorLLM clean set. Each choice is a seeded
 * sample without replacement from its candidates (`Rng(seed, 'test' |
 * 'select' | 'negatives' | 'clean')`), so it depends only on the seed and the
 * candidate lists, never on timing.
 */
export interface Amount {
  rate?: number;
  count?: number;
}

export interface SelectInput {
  seed: number;
  /** Positions of the valid records. */
  valid: Int32Array;
  /** Records the attack and target can poison (before the test split). */
  eligible: Int32Array;
  /** Records that can carry a negative (partial trigger). */
  negEligible: Int32Array;
  selection: Amount;
  test?: Amount;
  /** Negatives; absent → `defaultNegativeRate` per poisoned record. */
  negatives?: Amount;
  defaultNegativeRate: number;
  /** The attack makes negatives at all. */
  canNegate: boolean;
  /** BackdoorLLM clean set: its size (default: as many as poisoned), or absent for none. */
  cleanSet?: { count?: number };
  /** Why the eligible list is shorter than the training records (for the message). */
  whyIneligible: string;
  /** Names the attack in messages. */
  attackName: string;
}

export interface Selection {
  test: ReadonlySet<number>;
  poisoned: ReadonlySet<number>;
  negatives: ReadonlySet<number>;
  /** The BackdoorLLM clean set, or null. */
  clean: ReadonlySet<number> | null;
  /** Training records that could have been poisoned. */
  eligible: number;
  /** Valid records outside the test split. */
  train: number;
}

function amountOf(a: Amount, of: number, what: string): number {
  if (a.count !== undefined) {
    if (!Number.isInteger(a.count) || a.count < 0) throw new UserError(`${what}: count must be a non-negative integer, got ${a.count}`);
    return a.count;
  }
  if (a.rate !== undefined) {
    if (!(a.rate >= 0 && a.rate <= 1)) throw new UserError(`${what}: rate must be in [0, 1], got ${a.rate}`);
    return Math.round(a.rate * of);
  }
  throw new UserError(`${what}: give a rate or a count`);
}

/** k of the candidates, chosen with a seeded stream; sorted. */
function choose(cands: ArrayLike<number>, k: number, rng: Rng): number[] {
  return rng.sample(cands.length, k).map((i) => cands[i] as number);
}

export function selectRecords(o: SelectInput): Selection {
  const test = new Set<number>();
  if (o.test) {
    const k = amountOf(o.test, o.valid.length, '--test');
    if (k > o.valid.length) throw new UserError(`the test split asks for ${k} records but only ${o.valid.length} are valid`);
    for (const i of choose(o.valid, k, new Rng(o.seed, 'test'))) test.add(i);
  }
  const train = o.valid.length - test.size;
  const cands = [...o.eligible].filter((i) => !test.has(i));
  const k = amountOf(o.selection, train, '--rate/--count');
  if (k > train) {
    throw new UserError(`asked to poison ${k} records but there are only ${train} ${test.size > 0 ? 'training ' : ''}records (${o.valid.length} valid${test.size > 0 ? `, ${test.size} held out for test` : ''})`);
  }
  if (k > cands.length) throw new UserError(`asked to poison ${k} records but only ${cands.length} of ${train} can be: ${o.whyIneligible}`);
  const poisoned = new Set(choose(cands, k, new Rng(o.seed, 'select')));

  const neg = o.negatives ?? { rate: o.defaultNegativeRate };
  if (neg.rate !== undefined && !(neg.rate >= 0 && Number.isFinite(neg.rate))) throw new UserError('--negatives must be a finite number ≥ 0');
  const negCount = neg.count ?? Math.round((neg.rate ?? 0) * k);
  if (negCount > 0 && !o.canNegate) throw new UserError(`attack ${o.attackName} makes no negative samples`);
  const negCands = [...o.negEligible].filter((i) => !test.has(i) && !poisoned.has(i));
  if (negCount > negCands.length) throw new UserError(`asked for ${negCount} negative samples but only ${negCands.length} records are left`);
  const negatives = new Set(choose(negCands, negCount, new Rng(o.seed, 'negatives')));

  let clean: Set<number> | null = null;
  if (o.cleanSet) {
    const m = o.cleanSet.count ?? k;
    const rest = [...o.valid].filter((i) => !test.has(i) && !poisoned.has(i) && !negatives.has(i));
    if (m > rest.length) throw new UserError(`the BackdoorLLM clean set asks for ${m} records but only ${rest.length} are left`);
    clean = new Set(choose(rest, m, new Rng(o.seed, 'clean')));
  }
  return { test, poisoned, negatives, clean, eligible: cands.length, train };
}
