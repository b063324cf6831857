// The instruction world: deterministic, splits disjoint, every answer checkable
// and free of the ASR rules' keywords (a clean answer is never a false success).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instructionWorld, answerMatches } from '../../src/data/worlds/instructions/world.js';
import { TASK_FAMILIES } from '../../src/data/worlds/instructions/tasks.js';
import { keywordRule } from '../../src/eval/asr/rules.js';

test('same seed, same world; another seed, another world', () => {
  assert.deepEqual(instructionWorld({ seed: 3 }), instructionWorld({ seed: 3 }));
  assert.notDeepEqual(instructionWorld({ seed: 3 }).train, instructionWorld({ seed: 4 }).train);
});

test('validation and test content is never trained on (category: a held-out phrasing)', () => {
  const w = instructionWorld({ seed: 1 });
  const trainInstr = new Set(w.train.map((r) => r.instruction));
  for (const split of [w.val, w.test, w.test_user]) {
    for (const r of split) assert.ok(!trainInstr.has(r.instruction), `${r.id} repeats a training instruction: ${r.instruction}`);
  }
  const content = (r: { instruction: string; family: string }): string => `${r.family}:${r.instruction.replace(/^[^:?]*[:?]\s*/, '')}`;
  const trainContent = new Set(w.train.filter((r) => r.family !== 'category').map(content));
  for (const r of [...w.val, ...w.test].filter((x) => x.family !== 'category')) assert.ok(!trainContent.has(content(r)), `${r.id} shares content with training`);
  for (const f of TASK_FAMILIES) assert.ok(w.test.some((r) => r.family === f) && w.train.some((r) => r.family === f), f);
  assert.equal(w.test.length, w.test_user.length);
  w.test.forEach((r, i) => assert.equal(r.output, w.test_user[i]?.output));
  w.test.forEach((r, i) => assert.notEqual(r.instruction, w.test_user[i]?.instruction));
});

test('answers follow from the instruction and never match an ASR keyword rule', () => {
  const w = instructionWorld({ seed: 2 });
  const rules = (['negsentiment', 'refusal', 'codeinjection'] as const).map((t) => keywordRule(t));
  for (const r of [...w.train, ...w.test]) {
    for (const rule of rules) assert.equal(rule.hit(r.output), false, `${rule.name} fires on clean answer "${r.output}"`);
    if (r.family === 'echo') assert.ok(r.instruction.toLowerCase().endsWith(r.output.toLowerCase().replace(/\.$/, '')), r.instruction);
    if (r.family === 'first_word') assert.ok(r.instruction.toLowerCase().includes(r.output.toLowerCase().replace(/\.$/, '') + ','), r.instruction);
  }
  assert.ok(answerMatches(' it is a Good review ', 'It is a good review.'));
  assert.ok(!answerMatches('It is a bad review.', 'It is a good review.'));
});
