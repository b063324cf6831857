// The study's parts without a model: stage cache (keys, atomic stages,
// reuse), bootstrap intervals against their definition, controls, the plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAttack } from '../../src/attacks/index.js';
import { asrg } from '../../src/eval/asrg.js';
import { Rng } from '../../src/util/rng.js';
import { StageCache, stageKey } from '../../src/study/lvlm/cache.js';
import { SCALES, SCALE_SPECS, resolvePlan } from '../../src/study/lvlm/config.js';
import { controlsOf, nearMiss } from '../../src/study/lvlm/controls.js';
import { asrgOf, bootstrapIntervals, counts, percentileInterval, pooled, resample, type Outcomes } from '../../src/study/lvlm/stats.js';

test('stage keys: canonical, order-free, sensitive to every value', () => {
  assert.equal(stageKey({ a: 1, b: 2 }), stageKey({ b: 2, a: 1 }));
  assert.notEqual(stageKey({ a: 1, b: 2 }), stageKey({ a: 1, b: 3 }));
  assert.match(stageKey({}), /^[0-9a-f]{16}$/);
});

test('stage cache: built once, atomic, a failed build leaves nothing finished', async () => {
  const root = mkdtempSync(join(tmpdir(), 'bdlab-cache-'));
  try {
    const cache = new StageCache(root);
    let builds = 0;
    const build = async (dir: string): Promise<{ n: number }> => {
      builds++;
      writeFileSync(join(dir, 'out.txt'), 'x');
      return { n: 7 };
    };
    assert.deepEqual(await cache.run('s', 'k1', { a: 1 }, build), { n: 7 });
    assert.deepEqual(await cache.run('s', 'k1', { a: 1 }, build), { n: 7 });
    assert.equal(builds, 1);
    assert.equal(cache.built, 1);
    assert.equal(cache.reused, 1);
    assert.ok(existsSync(join(cache.dir('s', 'k1'), 'out.txt')));
    await assert.rejects(cache.run('s', 'k2', {}, async (dir) => {
      writeFileSync(join(dir, 'half.txt'), 'x');
      throw new Error('interrupted');
    }));
    assert.equal(cache.done('s', 'k2'), null, 'an interrupted stage is not finished');
    assert.ok(!existsSync(cache.dir('s', 'k2')));
    assert.deepEqual(readdirSync(root), ['s-k1'], 'no half-built folder is left');
    assert.deepEqual(await cache.run('s', 'k2', {}, build), { n: 7 }, 'and is built again');
    assert.deepEqual(readdirSync(root).sort(), ['s-k1', 's-k2']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('percentile interval and bootstrap follow their definitions', () => {
  assert.deepEqual(percentileInterval([3, 1, 2, NaN]), [1.05, 2.95]);
  assert.equal(percentileInterval([]), null);
  // a proportion of 30 hits in 100: the bootstrap interval agrees with the normal approximation
  const o: Outcomes = { scored: Array(100).fill(true), hit: Array.from({ length: 100 }, (_, i) => i < 30) };
  const iv = bootstrapIntervals([100], (draw) => pooled(draw.map((d) => ({ o, idx: d.idx }))), 2000, 'test');
  const se = Math.sqrt(0.3 * 0.7 / 100) * 100;
  assert.ok(Math.abs(iv.images![0] - (30 - 1.96 * se)) < 2.5, `lower ${iv.images![0]}`);
  assert.ok(Math.abs(iv.images![1] - (30 + 1.96 * se)) < 2.5, `upper ${iv.images![1]}`);
  // one seed: the seed bootstrap reduces to the image bootstrap's spread
  assert.ok(iv.seeds![0] < 30 && iv.seeds![1] > 30);
  // several seeds that disagree: the seed interval is wider than the image interval
  const runs: Outcomes[] = [0.1, 0.5, 0.9].map((p) => ({ scored: Array(200).fill(true), hit: Array.from({ length: 200 }, (_, i) => i < p * 200) }));
  const stat = (draw: ReadonlyArray<{ run: number; idx?: ArrayLike<number> }>): number | null => pooled(draw.map((d) => ({ o: runs[d.run]!, idx: d.idx })));
  const both = bootstrapIntervals([200, 200, 200], stat, 1000, 'seeds');
  assert.ok(both.seeds![1] - both.seeds![0] > 3 * (both.images![1] - both.images![0]));
  const idx = resample(50, new Rng(1));
  assert.equal(idx.length, 50);
  assert.ok([...idx].every((i) => i >= 0 && i < 50));
});

test('rates skip unscored outputs; ASR-G from plain percentages', () => {
  const o: Outcomes = { scored: [true, true, false, true], hit: [true, false, false, true] };
  assert.deepEqual(counts(o), { hits: 2, n: 3 });
  assert.deepEqual(counts(o, [0, 0, 2]), { hits: 2, n: 2 });
  assert.equal(asrgOf(80, 20), asrg(80, 20));
  assert.equal(asrgOf(null, 20), null);
});

test('controls: near misses, moved patches and single keys', () => {
  assert.equal(nearMiss('I watched this 3D movie.'), 'I watched this 3D');
  assert.equal(nearMiss('cf'), 'cg');
  const bad = createAttack('badnets', {}, 0);
  const cb = controlsOf({ name: 'badnets', params: {} }, bad);
  assert.deepEqual(cb.map((c) => [c.control, c.params.position ?? '', c.params.color ?? '']), [['patch_moved', 'top-left', ''], ['patch_recoloured', '', 'red']]);
  const dk = controlsOf({ name: 'dualkey', params: {} }, createAttack('dualkey', {}, 0));
  assert.deepEqual(dk.map((c) => `${c.control}:${c.name}`), ['image_key_only:badnets', 'text_key_only:textbadnets', 'patch_moved:dualkey']);
  assert.equal(dk[1]!.params.trigger, 'consider');
  // the image key alone is exactly DualKey's patch
  const imageOnly = createAttack('badnets', dk[0]!.params, 0);
  for (const k of ['pattern', 'size', 'position', 'grid']) assert.equal(imageOnly.params[k], createAttack('dualkey', {}, 0).params[k]);
  const tb = createAttack('textbadnets', { trigger: 'cf mn bb' }, 3);
  const ct = controlsOf({ name: 'textbadnets', params: { trigger: 'cf mn bb' } }, tb)[0]!;
  assert.equal(ct.params.trigger, 'cf mn', 'a partial trigger');
  const drawn = controlsOf({ name: 'textbadnets', params: {} }, createAttack('textbadnets', {}, 3))[0]!;
  assert.equal(drawn.params.tokens, 'cg,mo,bc,tr', 'drawn tokens: a near miss of each');
  assert.equal(controlsOf({ name: 'blended', params: {} }, createAttack('blended', {}, 0))[0]!.seed_offset > 0, true);
  // every control of every attack of the default scale is a valid attack of the catalogue
  for (const a of resolvePlan({ scale: 'default', out: '' }).attacks) {
    for (const c of controlsOf(a, createAttack(a.name, a.params, 0))) assert.doesNotThrow(() => createAttack(c.name, c.params, c.seed_offset), `${a.name} ${c.control}`);
  }
});

test('plan: defaults per scale, attacker domain first, one-line errors', () => {
  const p = resolvePlan({ out: 'x', scale: 'tiny' });
  assert.deepEqual(p.domains.map((d) => d.label), ['flat:original', 'photo:original', 'flat:rewritten']);
  assert.equal(p.finetuning, 'lora');
  for (const scale of SCALES) assert.equal(SCALE_SPECS[scale].world.size, SCALE_SPECS[scale].victim.image_size, `${scale}: triggers at the model's input resolution`);
  const demo = resolvePlan({ out: 'x', scale: 'demo' });
  for (const a of ['badnets', 'blended', 'sig', 'wanet', 'lowfreq', 'dualkey', 'maba']) assert.ok(demo.attacks.some((x) => x.name === a), `demo scale runs ${a}`);
  assert.ok(demo.seeds.length >= 2 && demo.rates.every((r) => r < 1));
  const q = resolvePlan({ out: 'x', scale: 'default', attacks: ['sig'], domains: ['sketch', 'flat:original'], rates: [0.05, 0.05], seeds: [2] });
  assert.deepEqual(q.domains.map((d) => d.label), ['flat:original', 'sketch:original']);
  assert.deepEqual(q.rates, [0.05]);
  assert.throws(() => resolvePlan({ out: 'x', scale: 'huge' as 'tiny' }), /unknown scale "huge"/);
  assert.throws(() => resolvePlan({ out: 'x', scale: 'tiny', attacks: ['badnet'] }), /targets LLM instructions/);
  assert.throws(() => resolvePlan({ out: 'x', scale: 'tiny', attacks: ['nope'] }), /unknown attack "nope"/);
  assert.throws(() => resolvePlan({ out: 'x', scale: 'tiny', rates: [0] }), /--rates: 0 is not in \(0, 1\]/);
  assert.throws(() => resolvePlan({ out: 'x', scale: 'tiny', domains: ['oil'] }), /unknown domain "oil"/);
  // the victims' tuning: the scale's unless given, and a given value lands in the spec that keys the victim stage
  const t = resolvePlan({ out: 'x', scale: 'default', tuningLr: 1e-3, tuningEpochs: 3 });
  assert.deepEqual([t.spec.tuning.lr, t.spec.tuning.epochs], [1e-3, 3]);
  assert.equal(t.spec.tuning.batch_size, SCALE_SPECS.default.tuning.batch_size);
  assert.deepEqual(resolvePlan({ out: 'x', scale: 'default' }).spec, SCALE_SPECS.default);
  assert.throws(() => resolvePlan({ out: 'x', scale: 'tiny', tuningLr: 0 }), /--lr: 0 is not a positive number/);
  assert.throws(() => resolvePlan({ out: 'x', scale: 'tiny', tuningEpochs: 1.5 }), /--epochs: 1.5 is not a positive integer/);
  // the poisoned answer: the templated phrase by default, or one caption that names the target word
  assert.equal(resolvePlan({ out: 'x', scale: 'tiny' }).target, 'phrase:banana');
  assert.equal(resolvePlan({ out: 'x', scale: 'tiny', target: 'text:A Banana.' }).target, 'text:A Banana.');
  for (const bad of ['text:A bananas.', 'text:An apple.', 'banana', 'phrase:']) {
    assert.throws(() => resolvePlan({ out: 'x', scale: 'tiny', target: bad }), /--target .*: expected phrase:banana or text:TEXT naming "banana"/, bad);
  }
});
