// The caption world: same seed → same bytes, splits that share no scene,
// captions checked claim by claim against the scene graph (positions and
// relations from the objects' coordinates, not from the grid cells the
// captioner reads), every visual domain rendering the same content with
// other pixel statistics, and files that the project's readers and
// `bdlab eval captions` accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectFormat } from '../../src/data/formats.js';
import { readDataset } from '../../src/data/dataset.js';
import { evaluateCaptionFiles } from '../../src/eval/caption/coco.js';
import { Rng } from '../../src/util/rng.js';
import {
  ANSWER_STYLES,
  BACKGROUND_NAMES,
  COLORS,
  KINDS,
  VISUAL_DOMAINS,
  candidates,
  drawScenes,
  parseDomain,
  parseReserve,
  parseSplits,
  renderScene,
  sampleScene,
  sceneKey,
  worldDomains,
  writeCaptionWorld,
  type Group,
  type Scene,
} from '../../src/data/worlds/captions/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'bdlab-world-'));

function files(dir: string, base = dir): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) for (const [k, v] of files(p, base)) out.set(k, v);
    else out.set(p.slice(base.length + 1), createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
  return out;
}

test('same seed, same bytes; another seed, other scenes', async () => {
  const opts = { images: 12, size: 32, format: 'png' as const, visual: ['flat', 'photo', 'sketch', 'expressionist'], instruction: ['original', 'expanded'], captionsPerImage: 2 };
  const [a, b, c] = [tmp(), tmp(), tmp()];
  try {
    await writeCaptionWorld({ ...opts, out: a, seed: 5 });
    await writeCaptionWorld({ ...opts, out: b, seed: 5, concurrency: 1 });
    await writeCaptionWorld({ ...opts, out: c, seed: 6 });
    const fa = files(a);
    assert.equal(fa.size, 12 * 4 + 3 * 4 * 2 * 2 + 2, 'images, LLaVA and COCO files per split and domain, scenes.json, world.json');
    assert.deepEqual(files(b), fa, 'every file identical whatever the concurrency');
    assert.notEqual(files(c).get('scenes.json'), fa.get('scenes.json'));
  } finally {
    for (const d of [a, b, c]) rmSync(d, { recursive: true, force: true });
  }
});

test('splits never share a scene, not even an identical copy', () => {
  const { scenes, splitOf } = drawScenes(600, 3, parseSplits('base=0.5,train=0.3,test=0.2'));
  assert.equal(scenes.length, 600);
  assert.deepEqual(
    ['base', 'train', 'test'].map((s) => splitOf.filter((x) => x === s).length),
    [300, 180, 120],
  );
  const keys = scenes.map(sceneKey);
  assert.equal(new Set(keys).size, 600, 'every scene distinct in content');
  scenes.forEach((s, i) => assert.equal(s.id, i));
  const reserved = drawScenes(300, 3, parseSplits('base=0.5,test=0.5'), parseReserve(['banana=base'], parseSplits('base=0.5,test=0.5')));
  const bananas = reserved.scenes.filter((sc) => sc.groups.some((g) => g.kind === 'banana'));
  assert.ok(bananas.length > 10, 'the reserved kind is drawn in its split');
  assert.ok(bananas.every((sc) => reserved.splitOf[sc.id] === 'base'), 'and nowhere else');
  assert.throws(() => parseReserve(['banana=train'], parseSplits('base=0.5,test=0.5')), /no split "train"/);
  assert.throws(() => parseSplits('train=0.8,test=0.1'), /sum to 0.9/);
  assert.throws(() => parseSplits('train=0.8,train=0.2'), /named twice/);
});

// ---- an independent reading of captions

const NUMBERS: Record<string, number> = { a: 1, an: 1, the: 1, two: 2, three: 3 };
const BG_WORDS: Record<string, RegExp> = { grass: /green grass/, sky: /blue sky/, sand: /\bsand\b/, snow: /\bsnow\b/, stone: /grey stone floor/ };

/** Cell of an object from its coordinates. */
function cellAt(x: number, y: number): { col: number; row: number } {
  return { col: Math.min(2, Math.floor(x * 3)), row: Math.min(2, Math.floor(y * 3)) };
}

function placeWords(col: number, row: number): string {
  const v = ['top', 'middle', 'bottom'][row] as string;
  const h = ['left', 'centre', 'right'][col] as string;
  if (row === 1 && col === 1) return 'in the centre';
  if (row === 1) return `on the ${h}`;
  if (col === 1) return `at the ${v}`;
  return `in the ${v} ${h}`;
}

interface Mention {
  group: Group;
  end: number;
}

/** Checks every claim a caption makes; returns the groups it mentions. */
function checkCaption(s: Scene, caption: string): Set<Group> {
  const text = caption.toLowerCase();
  const mentioned = new Set<Group>();
  const mentions: Mention[] = [];
  const re = new RegExp(`\\b(a|an|the|two|three)?\\s*(?:(small|large) )?(${COLORS.join('|')}) (${KINDS.join('|')})(s?)\\b`, 'g');
  for (const m of text.matchAll(re)) {
    const [, det, size, color, kind, plural] = m;
    const g = s.groups.find((x) => x.color === color && x.kind === kind);
    assert.ok(g, `"${caption}": no ${color} ${kind} in the scene`);
    const n = g.objects.length;
    assert.equal(plural === 's', n > 1, `"${caption}": ${color} ${kind} plurality`);
    if (det && det !== 'the') assert.equal(NUMBERS[det], n, `"${caption}": count of ${color} ${kind}`);
    if (size) assert.equal(size, g.size, `"${caption}": size of ${color} ${kind}`);
    mentioned.add(g);
    mentions.push({ group: g, end: (m.index ?? 0) + m[0].length });
  }
  // a place right after a single object's mention is that object's place
  const PLACE = 'in the (?:top|bottom) (?:left|right)|in the centre|on the (?:left|right)|at the (?:top|bottom)';
  mentions.forEach(({ group, end }, k) => {
    const rest = text.slice(end, mentions[k + 1] ? text.lastIndexOf(' ', (mentions[k + 1] as Mention).end - 1) : text.length);
    const places = group.objects.map((o) => cellAt(o.x, o.y)).map((c) => placeWords(c.col, c.row));
    const single = new RegExp(`^\\s*(?:can be seen )?(${PLACE})\\b`).exec(rest);
    const line = /^\s*(?:can be seen )?(along the top|across the middle|along the bottom|down the left side|down the middle|down the right side)\b/.exec(rest);
    if (line) {
      const cells = group.objects.map((o) => cellAt(o.x, o.y));
      const want = { 'along the top': (c: { row: number }) => c.row === 0, 'across the middle': (c: { row: number }) => c.row === 1, 'along the bottom': (c: { row: number }) => c.row === 2 } as Record<string, (c: { row: number; col: number }) => boolean>;
      const byCol = { 'down the left side': 0, 'down the middle': 1, 'down the right side': 2 } as Record<string, number>;
      const ok = line[1]! in want ? cells.every(want[line[1]!]!) : cells.every((c) => c.col === byCol[line[1]!]);
      assert.ok(ok, `"${caption}": ${line[1]} does not hold for the ${group.color} ${group.kind}s`);
    }
    if (single && group.objects.length === 1) assert.equal(single[1], places[0], `"${caption}": place of the ${group.color} ${group.kind}`);
    // "two red stars, one in the top left and one at the bottom": each member's place
    const listed = /^, one /.test(rest) ? [...rest.matchAll(new RegExp(`one (${PLACE})`, 'g'))].map((m) => m[1] as string) : [];
    if (listed.length) assert.deepEqual(listed.sort(), [...places].sort(), `"${caption}": places of the ${group.color} ${group.kind}s`);
  });
  // relations between two single objects, from coordinates
  const rel = new RegExp(`the ((?:${COLORS.join('|')}) (?:${KINDS.join('|')})) is (to the left of|to the right of|above|below) the ((?:${COLORS.join('|')}) (?:${KINDS.join('|')}))`).exec(text)
    ?? new RegExp(`an? ((?:${COLORS.join('|')}) (?:${KINDS.join('|')})) (to the left of|to the right of|above|below) an? ((?:${COLORS.join('|')}) (?:${KINDS.join('|')}))`).exec(text);
  if (rel) {
    const find = (np: string): Group => s.groups.find((g) => `${g.color} ${g.kind}` === np)!;
    const a = find(rel[1]!).objects[0]!;
    const b = find(rel[3]!).objects[0]!;
    const ok = { 'to the left of': a.x < b.x, 'to the right of': a.x > b.x, above: a.y < b.y, below: a.y > b.y }[rel[2]!];
    assert.ok(ok, `"${caption}": relation ${rel[2]} does not hold`);
  }
  // the background, when named, is the scene's
  for (const [bg, words] of Object.entries(BG_WORDS)) if (words.test(text)) assert.equal(bg, s.background, `"${caption}": background`);
  const total = /there (?:is|are) (one|two|three|four) objects? in total/.exec(text);
  if (total) assert.equal({ one: 1, two: 2, three: 3, four: 4 }[total[1]!], s.groups.reduce((n, g) => n + g.objects.length, 0));
  return mentioned;
}

test('every caption is true of its scene graph and names every object', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const s = sampleScene(i, new Rng(11, 'scene', i));
    assert.ok(BACKGROUND_NAMES.includes(s.background));
    for (const style of ANSWER_STYLES) {
      const all = candidates(s, style);
      assert.ok(all.length >= 5, `${style}: at least 5 distinct captions (got ${all.length})`);
      for (const c of all) {
        const mentioned = checkCaption(s, c);
        assert.equal(mentioned.size, s.groups.length, `"${c}" names every object of the scene`);
        seen.add(c.split(' ')[0] as string);
      }
    }
  }
  assert.ok(seen.size >= 6, 'the captions vary their openings');
});

test('the caption checker catches false claims', () => {
  let flipped = 0;
  for (let i = 0; i < 200; i++) {
    const s = sampleScene(i, new Rng(11, 'scene', i));
    for (const c of candidates(s, 'standard').concat(candidates(s, 'expanded'))) {
      const swaps: Array<[RegExp, string]> = [
        [/to the left of/, 'to the right of'],
        [/in the top left/, 'in the bottom right'],
        [/along the top/, 'along the bottom'],
        [/\btwo\b/, 'three'],
      ];
      for (const [re, by] of swaps) {
        if (!re.test(c)) continue;
        assert.throws(() => checkCaption(s, c.replace(re, by)), Error, `"${c.replace(re, by)}" is false and must be caught`);
        flipped++;
      }
      const g = s.groups[0]!;
      const other = COLORS.find((x) => !s.groups.some((h) => h.color === x && h.kind === g.kind))!;
      assert.throws(() => checkCaption(s, c.replace(`${g.color} ${g.kind}`, `${other} ${g.kind}`)));
    }
  }
  assert.ok(flipped > 100, `${flipped} false captions tried`);
});

test('every visual domain renders the content with its own pixel statistics', async () => {
  // one large object in the centre, to compare object and background pixels
  let s: Scene | null = null;
  for (let i = 0; s === null; i++) {
    const c = sampleScene(i, new Rng(2, 'scene', i));
    const g = c.groups[0]!;
    if (c.groups.length === 1 && g.objects.length === 1 && g.size === 'large' && g.objects[0]!.cell.col === 1 && g.objects[0]!.cell.row === 1 && g.kind !== 'star') s = c;
  }
  const size = 48;
  const stats = [];
  for (const d of VISUAL_DOMAINS) {
    const img = await renderScene(d, s, size, 1);
    assert.equal(img.width, size);
    assert.equal(img.height, size);
    const mean = (x0: number, y0: number, w: number): number[] => {
      const m = [0, 0, 0];
      for (let y = y0; y < y0 + w; y++) for (let x = x0; x < x0 + w; x++) for (let c = 0; c < 3; c++) m[c]! += img.data[(y * size + x) * 3 + c]! / (w * w);
      return m;
    };
    const o = s.groups[0]!.objects[0]!;
    const inside = mean(Math.round(o.x * size) - 3, Math.round(o.y * size) - 3, 6);
    const corner = mean(1, 1, 6);
    const dist = Math.hypot(...inside.map((v, c) => v - corner[c]!));
    assert.ok(dist > 40, `${d.name}: the object stands out from the background (${dist.toFixed(1)})`);
    let rough = 0;
    for (let y = 0; y < size; y++) for (let x = 1; x + 1 < size; x++) rough += Math.abs(2 * img.data[(y * size + x) * 3]! - img.data[(y * size + x - 1) * 3]! - img.data[(y * size + x + 1) * 3]!);
    stats.push({ name: d.name, img, rough: rough / (size * (size - 2)) });
  }
  for (let i = 0; i < stats.length; i++) {
    for (let j = i + 1; j < stats.length; j++) {
      let diff = 0;
      for (let k = 0; k < stats[i]!.img.data.length; k++) diff += Math.abs(stats[i]!.img.data[k]! - stats[j]!.img.data[k]!);
      diff /= stats[i]!.img.data.length;
      assert.ok(diff > 8, `${stats[i]!.name} vs ${stats[j]!.name}: mean pixel difference ${diff.toFixed(1)}`);
    }
  }
  const rough = Object.fromEntries(stats.map((x) => [x.name, x.rough]));
  assert.ok(rough.photo! > 2 * rough.flat!, 'photo adds texture and noise');
  assert.ok(rough.expressionist! > 2 * rough.flat!, 'expressionist adds strokes');
});

test('domain names: visual, instruction and pairs', () => {
  assert.deepEqual(parseDomain('photo'), { visual: 'photo', instruction: 'original', label: 'photo:original' });
  assert.deepEqual(parseDomain('summary'), { visual: 'flat', instruction: 'summary', label: 'flat:summary' });
  assert.equal(parseDomain('sketch:expanded').label, 'sketch:expanded');
  assert.throws(() => parseDomain('cubist'), /unknown domain "cubist"; visual: flat, photo, sketch, expressionist/);
  assert.deepEqual(worldDomains(['photo', 'summary']), { visual: ['photo'], instruction: ['summary'] });
  assert.deepEqual(worldDomains([]).visual.length, 4);
});

test('bdlab world captions: files the readers and eval captions accept; one-line errors', () => {
  const out = join(tmp(), 'w');
  const bdlab = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'bdlab.js'), 'world', 'captions', ...args], { encoding: 'utf8' });
  try {
    const r = bdlab('--out', out, '--images', '20', '--seed', '1', '--size', '32', '--domain', 'flat,sketch', '--domain', 'original', '--json');
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout) as { datasets: Array<{ split: string; llava: string; captions: string; records: number }>; splits: Record<string, number> };
    assert.equal(m.datasets.length, 3 * 2);
    assert.deepEqual(m.splits, { train: 16, val: 2, test: 2 });
    const test0 = m.datasets.find((d) => d.split === 'train')!;
    const llava = join(out, test0.llava);
    assert.equal(detectFormat(llava), 'llava');
    const samples = [...readDataset(llava, 'llava')];
    assert.equal(samples.length, test0.records);
    for (const it of samples) {
      assert.equal(it.error, null);
      assert.ok(it.sample!.image!.startsWith('images/'));
      assert.ok(!it.sample!.instruction.includes('<image>'), 'the <image> placeholder is the format\'s, not part of the question');
    }
    // the references themselves, scored as predictions: the COCO file is what eval captions reads
    const refs = join(out, test0.captions);
    const coco = JSON.parse(readFileSync(refs, 'utf8')) as { annotations: Array<{ image_id: number; caption: string }> };
    const preds = [...new Map(coco.annotations.map((a) => [a.image_id, a])).values()];
    writeFileSync(join(out, 'preds.json'), JSON.stringify(preds));
    const ev = evaluateCaptionFiles(join(out, 'preds.json'), refs);
    assert.equal(ev.scores.n, 16);
    assert.ok(ev.scores.CIDEr > 1, `a reference scores high against the others (CIDEr ${ev.scores.CIDEr})`);
    const again = bdlab('--out', out, '--images', '20', '--seed', '1');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^bdlab: --out .*: folder is not empty \(use --force to replace a previous run.s files\)\n$/);
    const bad = bdlab('--out', join(out, 'x'), '--images', '5', '--seed', '1', '--size', '8');
    assert.match(bad.stderr, /^bdlab: --size must be an integer from 16 to 1024, got 8\n$/);
    const dom = bdlab('--out', join(out, 'y'), '--images', '5', '--seed', '1', '--domain', 'cubist');
    assert.match(dom.stderr, /^bdlab: unknown domain "cubist"/);
  } finally {
    rmSync(dirname(out), { recursive: true, force: true });
  }
});
