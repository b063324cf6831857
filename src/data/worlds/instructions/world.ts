// The instruction world: a generated Alpaca-style instruction set with real,
// checkable answers (src/data/worlds/instructions/tasks.ts), split so that
// validation and test items are never trained on. It is the embedded default
// of the LLM study: small enough for a model trained from scratch on two CPU
// cores to learn in a minute, structured enough that clean accuracy on
// held-out items means the model learned the tasks rather than the samples.
//
// Splits (same seed → same bytes):
// - train: attacker phrasings, the training share of each family's content;
// - val: held-out content (defenses choose their hyper-parameters here);
// - test: other held-out content in the attacker's phrasings;
// - test_user: the same test content in the user's phrasings (an instruction
//   domain shift).
// The category family is a memorised lexicon, so its held-out part is each
// known item asked in the one attacker phrasing it was not trained with.
import { Rng } from '../../../util/rng.js';
import { allItems, fill, PHRASINGS, TASK_FAMILIES, type TaskFamily, type TaskItem } from './tasks.js';

export interface WorldRecord {
  id: string;
  instruction: string;
  input: string;
  output: string;
  family: TaskFamily;
}

export interface InstructionWorld {
  train: WorldRecord[];
  val: WorldRecord[];
  test: WorldRecord[];
  test_user: WorldRecord[];
}

export interface InstructionWorldOptions {
  seed: number;
  /** Training records per family (content items; each gets one attacker phrasing). */
  trainPerFamily?: number;
  /** Validation and test items per family. */
  valPerFamily?: number;
  testPerFamily?: number;
  families?: readonly TaskFamily[];
}

export const DEFAULT_WORLD = { trainPerFamily: 250, valPerFamily: 25, testPerFamily: 50 } as const;

function record(split: string, family: TaskFamily, i: number, item: TaskItem, template: string): WorldRecord {
  return { id: `${split}-${family}-${i}`, instruction: fill(template, item.slots), input: '', output: item.output, family };
}

/** Builds the four splits; throws when a family has too few items for the sizes asked. */
export function instructionWorld(o: InstructionWorldOptions): InstructionWorld {
  const nTrain = o.trainPerFamily ?? DEFAULT_WORLD.trainPerFamily;
  const nVal = o.valPerFamily ?? DEFAULT_WORLD.valPerFamily;
  const nTest = o.testPerFamily ?? DEFAULT_WORLD.testPerFamily;
  const w: InstructionWorld = { train: [], val: [], test: [], test_user: [] };
  for (const family of o.families ?? TASK_FAMILIES) {
    const items = new Rng(o.seed, 'instruction-world', family).shuffle(allItems(family, new Rng(o.seed, 'instruction-items', family)));
    const { attacker, user } = PHRASINGS[family];
    const pick = new Rng(o.seed, 'instruction-phrasing', family);
    if (family === 'category') {
      // known items: each is trained in all but one attacker phrasing and asked in that one at test
      const heldOut = items.map(() => pick.int(attacker.length));
      const trainable = items.flatMap((it, k) => attacker.filter((_, j) => j !== heldOut[k]).map((t) => [it, t] as const));
      const order = new Rng(o.seed, 'instruction-category-train', family).shuffle(trainable);
      for (let i = 0; i < nTrain; i++) {
        const [it, t] = order[i % order.length] as readonly [TaskItem, string];
        w.train.push(record('train', family, i, it, t));
      }
      const evalOrder = new Rng(o.seed, 'instruction-eval-items', family).shuffle(items.map((_, k) => k));
      evalOrder.slice(0, Math.min(nVal, items.length)).forEach((k, i) => w.val.push(record('val', family, i, items[k] as TaskItem, attacker[heldOut[k] as number] as string)));
      evalOrder.slice(0, Math.min(nTest, items.length)).forEach((k, i) => {
        w.test.push(record('test', family, i, items[k] as TaskItem, attacker[heldOut[k] as number] as string));
        w.test_user.push(record('test_user', family, i, items[k] as TaskItem, pick.pick(user)));
      });
      continue;
    }
    if (items.length < nTrain + nVal + nTest) throw new RangeError(`instruction world: family ${family} has ${items.length} items, fewer than ${nTrain} + ${nVal} + ${nTest}`);
    items.slice(0, nTrain).forEach((it, i) => w.train.push(record('train', family, i, it, pick.pick(attacker))));
    items.slice(nTrain, nTrain + nVal).forEach((it, i) => w.val.push(record('val', family, i, it, pick.pick(attacker))));
    items.slice(nTrain + nVal, nTrain + nVal + nTest).forEach((it, i) => {
      w.test.push(record('test', family, i, it, pick.pick(attacker)));
      w.test_user.push(record('test_user', family, i, it, pick.pick(user)));
    });
  }
  // interleave families so any prefix is a balanced sample
  w.train = new Rng(o.seed, 'instruction-world-order').shuffle(w.train);
  return w;
}

/** Normalised exact match of a generated answer against the reference (case, spaces, final period). */
export function answerMatches(output: string, reference: string): boolean {
  const norm = (s: string): string => s.trim().toLowerCase().replace(/\s+/g, ' ').replace(/[.!]+$/, '');
  return norm(output) === norm(reference);
}
