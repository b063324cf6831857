import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cocoTokenize, cocoTokenizeFull, ptbLex, PUNCTUATIONS } from '../../src/eval/caption/ptb-tokenizer.js';
import { Rng } from '../../src/util/rng.js';

const tok = (s: string): string => cocoTokenize(s).join(' ');

test('lower-cases and removes coco-caption punctuation tokens', () => {
  assert.equal(tok('A man riding a wave on top of a surfboard.'), 'a man riding a wave on top of a surfboard');
  assert.equal(tok('Wait... what?!'), 'wait what');
  assert.equal(tok('one, two; three: four - five -- six'), 'one two three four five six');
  assert.equal(tok('The sign reads "STOP" and `go` \'now\''), 'the sign reads stop and go now');
  assert.equal(tok('The “quoted” thing—done…'), 'the quoted thing done');
  assert.equal(tok('...'), '');
  assert.equal(tok('   '), '');
  assert.equal(tok(''), '');
  assert.equal(tok('A\nB\tC'), 'a b c', 'newlines are spaces, as the Python wrapper makes them');
  assert.deepEqual([...PUNCTUATIONS].sort(), ["''", "'", '``', '`', '-LRB-', '-RRB-', '-LCB-', '-RCB-', '.', '?', '!', ',', ':', '-', '--', '...', ';'].sort());
});

test('brackets become -lrb- etc. and survive, as in coco-caption', () => {
  assert.deepEqual(ptbLex('A man (in red) [x] {y}'), ['A', 'man', '-LRB-', 'in', 'red', '-RRB-', '-LSB-', 'x', '-RSB-', '-LCB-', 'y', '-RCB-']);
  assert.equal(tok('A man (in red) runs'), 'a man -lrb- in red -rrb- runs');
  assert.equal(tok('already -LRB- escaped -RRB-'), 'already -lrb- escaped -rrb-');
});

test('Penn Treebank clitics', () => {
  assert.equal(tok("It's a dog's toy, isn't it?"), "it 's a dog 's toy is n't it");
  assert.equal(tok("I can't, won't, cannot; we're gonna go"), "i ca n't wo n't can not we 're gon na go");
  assert.equal(tok("They've, I'll, he'd, I'm, I'd've"), "they 've i 'll he 'd i 'm i 'd 've");
  assert.equal(tok('Two dogs’ bowls and the cats\' toys'), 'two dogs bowls and the cats toys');
  assert.equal(tok("rock'n'roll at 5 o'clock in the '90s"), "rock'n'roll at 5 o'clock in the '90s");
  assert.equal(tok("'Tis the season"), "'t is the season");
  assert.equal(tok('DON’T'), "do n't", 'curly apostrophe normalised');
});

test('words, numbers, abbreviations, symbols', () => {
  assert.equal(tok('A black-and-white cat'), 'a black-and-white cat');
  assert.equal(tok('3.5 inches, 1,000 people at 10:30'), '3.5 inches 1,000 people at 10:30');
  assert.equal(tok('-5 degrees'), '-5 degrees');
  assert.equal(tok('$5 bill, 50% off'), '$ 5 bill 50 % off');
  assert.equal(tok('Mr. Smith on Main St.'), 'mr. smith on main st.');
  assert.equal(tok('a U.S. flag, e.g. this'), 'a u.s. flag e.g. this');
  assert.equal(tok('I. am'), 'i am', 'single letters drop their period');
  assert.equal(tok('the cat.'), 'the cat');
  assert.equal(tok('black/white and a*b'), 'black\\/white and a \\* b');
  assert.equal(tok('cats & dogs at AT&T'), 'cats & dogs at at&t');
  assert.equal(tok('Fish &amp; chips'), 'fish & chips');
  assert.equal(tok('Café İstanbul'), 'café i̇stanbul');
  assert.equal(tok('cafe\u0301'), 'café', 'NFC');
});

test('the plain-text shortcut gives what the full lexer gives', () => {
  // pieces chosen to hit every rule the shortcut reduces: abbreviations in any
  // case, assimilations, acronyms, numbers with inner punctuation, trailing
  // and repeated sentence punctuation, single letters, empty chunks
  const pieces = ['a', 'I', 'St', 'st', 'MR', 'etc', 'Dr', 'vs', 'cannot', 'Gonna', 'dog', 'e', 'g', 'u', 's', '5', '10', '3', '0', 'x1', 'ft2', ' ', ' ', ' ', '.', '.', ',', ',', '..'];
  const rng = new Rng(7);
  for (let i = 0; i < 3000; i++) {
    let s = '';
    const len = rng.int(12);
    for (let k = 0; k < len; k++) s += pieces[rng.int(pieces.length)];
    assert.deepEqual(cocoTokenize(s), cocoTokenizeFull(s), JSON.stringify(s));
  }
});
