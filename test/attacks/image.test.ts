import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAttack } from '../../src/attacks/index.js';
import { ImageStore } from '../../src/data/image-store.js';
import { OutputDir } from '../../src/data/output-dir.js';
import { ImageRoot } from '../../src/data/paths.js';
import { cloneImage, sniffFormat, type RawImage } from '../../src/data/image-io.js';
import { Rng } from '../../src/util/rng.js';
import { PatchTrigger, patchSpec, gridColor } from '../../src/attacks/image/patch.js';
import { BlendedTrigger } from '../../src/attacks/image/blended.js';
import { SigTrigger } from '../../src/attacks/image/sig.js';
import { WanetTrigger } from '../../src/attacks/image/wanet.js';
import { LowFreqTrigger, dct2 } from '../../src/attacks/image/lowfreq.js';
import { inOval, OvalTrigger } from '../../src/attacks/image/oval.js';
import { SaliencyProvider } from '../../src/attacks/image/attribution.js';
import { applyGenerated } from '../../src/attacks/image/inputaware.js';
import { plainBadnets, plainBlended, plainSig, plainWanet, plainLowfreq } from './plain.js';
import { resolveParams } from '../../src/attacks/params.js';
import { attackDef } from '../../src/attacks/registry.js';
import { ctx, readImage, synthImage, tmp, writeImage } from './helpers.js';

/** Runs an attack's image plan on a real PNG/JPEG file and returns clean and poisoned pixels as read back from disk. */
async function throughFiles(name: string, params: Record<string, string>, img: RawImage, fmt: 'png' | 'jpeg' = 'png', seed = 1, index = 0): Promise<{ before: RawImage; after: RawImage; outPath: string }> {
  const dir = tmp();
  const ext = fmt === 'png' ? 'png' : 'jpg';
  await writeImage(join(dir, `in.${ext}`), img, fmt);
  const a = createAttack(name, params, seed);
  const plan = a.plan({ index, id: index, instruction: 'What is in the image?', input: '', output: 'x', image: `in.${ext}` }, ctx(seed, index));
  const out = OutputDir.open({ path: join(dir, 'out'), force: false, input: join(dir, `in.${ext}`), imageRoot: dir });
  const store = new ImageStore(new ImageRoot(dir), out);
  const r = await store.transform(`in.${ext}`, `p/${index}-in.${ext}`, plan.image as (i: RawImage) => Promise<void>);
  const outPath = join(dir, 'out', 'images', r.rel);
  return { before: await readImage(join(dir, `in.${ext}`)), after: await readImage(outPath), outPath };
}

const px = (img: RawImage, x: number, y: number, c: number): number => img.data[(y * img.width + x) * img.channels + c] as number;

test('badnets: the patch pixels equal the trigger (3x3 grid, bottom-right), all other pixels unchanged', async () => {
  const img = synthImage(64, 48, 1);
  const { before, after } = await throughFiles('badnets', { size: '9' }, img);
  const spec = patchSpec(resolveParams(attackDef('badnets').params, { size: '9' }, 'x'));
  let inPatch = 0;
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < 64; x++) {
      for (let c = 0; c < 3; c++) {
        if (x >= 55 && y >= 39) {
          assert.equal(px(after, x, y, c), gridColor(spec, 9, x - 55, y - 39)[c]);
          inPatch++;
        } else assert.equal(px(after, x, y, c), px(before, x, y, c));
      }
    }
  }
  assert.equal(inPatch, 9 * 9 * 3);
  // 3x3 cells of 3 px: white corners, black centre-edge cells
  assert.deepEqual([px(after, 55, 39, 0), px(after, 58, 39, 0), px(after, 58, 42, 0)], [255, 0, 255]);
});

test('badnets: random position stays inside and varies; solid colour; relative size', async () => {
  const spec = patchSpec(resolveParams(attackDef('badnets').params, { position: 'random', pattern: 'solid', color: '#ff8000', size: '0.25' }, 'x'));
  const t = new PatchTrigger(spec);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const img = synthImage(40, 32, i);
    const p = t.place(img, new Rng(1, 'image', i));
    assert.equal(p.side, 8);
    assert.ok(p.x >= 0 && p.y >= 0 && p.x + 8 <= 40 && p.y + 8 <= 32);
    seen.add(`${p.x},${p.y}`);
    const before = cloneImage(img);
    await t.apply(img, new Rng(1, 'image', i));
    assert.deepEqual([px(img, p.x + 3, p.y + 3, 0), px(img, p.x + 3, p.y + 3, 1), px(img, p.x + 3, p.y + 3, 2)], [255, 128, 0]);
    let changedOutside = 0;
    for (let y = 0; y < 32; y++) for (let x = 0; x < 40; x++) if ((x < p.x || x >= p.x + 8 || y < p.y || y >= p.y + 8) && px(img, x, y, 0) !== px(before, x, y, 0)) changedOutside++;
    assert.equal(changedOutside, 0);
  }
  assert.ok(seen.size > 10);
});

test('blended: every pixel equals round((1 − α)x + αt) on real PNG files', async () => {
  const img = synthImage(50, 40, 2);
  const { before, after } = await throughFiles('blended', { alpha: '0.15' }, img);
  const t = await new BlendedTrigger(0.15, 'noise', 1, 224).patternFor(50, 40);
  let maxDiff = 0;
  for (let i = 0; i < 50 * 40; i++) {
    for (let c = 0; c < 3; c++) {
      const expect = Math.round((1 - 0.15) * (before.data[i * 3 + c] as number) + 0.15 * (t[i * 3 + c] as number));
      maxDiff = Math.max(maxDiff, Math.abs((after.data[i * 3 + c] as number) - expect));
    }
  }
  assert.equal(maxDiff, 0);
  // α = 0 leaves the image as it was
  const z = await throughFiles('blended', { alpha: '0' }, img);
  assert.deepEqual(z.after.data, z.before.data);
});

test('sig: each column moves by round(Δ·sin(2πjf/W)) where not clipped', async () => {
  const img = synthImage(60, 20, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = 100 + ((img.data[i] as number) % 50); // keep away from 0/255
  const { before, after } = await throughFiles('sig', {}, img);
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 60; x++) {
      const v = 40 * Math.sin((2 * Math.PI * x * 6) / 60); // defaults Δ = 40, f = 6, written out here
      for (let c = 0; c < 3; c++) assert.equal(px(after, x, y, c), Math.round(px(before, x, y, c) + v));
    }
  }
  // a horizontal signal is the same on every row
  assert.equal(px(after, 7, 0, 0) - px(before, 7, 0, 0), px(after, 7, 19, 0) - px(before, 7, 19, 0));
});

test('wanet: the warp is the identity at s = 0 and a smooth displacement otherwise', async () => {
  const img = synthImage(48, 48, 4);
  const id = await throughFiles('wanet', { s: '0' }, img);
  assert.deepEqual(id.after.data, id.before.data);
  const w = await throughFiles('wanet', { s: '0.5', k: '4' }, img);
  let changed = 0;
  for (let i = 0; i < w.after.data.length; i++) if (w.after.data[i] !== w.before.data[i]) changed++;
  assert.ok(changed > 100, `changed ${changed}`);
  // stronger warp moves more pixels, and the field is universal: same for every image of a size
  const t = new WanetTrigger({ k: 4, s: 0.5, gridRescale: 1 }, 1);
  const g1 = t.grid(48, 48);
  const g2 = new WanetTrigger({ k: 4, s: 0.5, gridRescale: 1 }, 1).grid(48, 48);
  assert.deepEqual(g1, g2);
  let maxShift = 0;
  for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++) maxShift = Math.max(maxShift, Math.abs(((g1[(y * 48 + x) * 2] as number) + 1) * 23.5 - x));
  assert.ok(maxShift > 0.05 && maxShift < 48 * 0.5, `max shift ${maxShift}`);
  // noise mode (cross samples) differs from the plain warp
  const a = synthImage(32, 32, 5);
  const b = cloneImage(a);
  t.apply(a);
  t.applyNoise(b, new Rng(1, 'n'));
  assert.notDeepEqual(a.data, b.data);
});

test('lowfreq: within the L∞ budget and made of low frequencies only', async () => {
  const img = synthImage(32, 32, 6);
  for (let i = 0; i < img.data.length; i++) img.data[i] = 128;
  const { before, after } = await throughFiles('lowfreq', { eps: '10', base: '32', window: '4' }, img);
  const diff = new Float64Array(32 * 32);
  let maxAbs = 0;
  for (let i = 0; i < 32 * 32 * 3; i++) {
    const d = (after.data[i] as number) - (before.data[i] as number);
    maxAbs = Math.max(maxAbs, Math.abs(d));
    if (i % 3 === 0) diff[i / 3] = d;
  }
  assert.ok(maxAbs <= 10 && maxAbs >= 9, `max |δ| ${maxAbs}`);
  const f = dct2(diff, 32);
  let low = 0;
  let high = 0;
  for (let u = 0; u < 32; u++) {
    for (let v = 0; v < 32; v++) {
      const e = (f[u * 32 + v] as number) ** 2;
      if (u < 4 && v < 4) low += e;
      else high += e;
    }
  }
  assert.ok(high / (low + high) < 0.02, `high-frequency energy share ${high / (low + high)}`);
});

test('fast triggers give the same bytes as the plain per-pixel implementations', async () => {
  for (const [w, h] of [
    [37, 29],
    [64, 64],
  ] as const) {
    const img = synthImage(w, h, w);
    const spec = patchSpec(resolveParams(attackDef('badnets').params, { position: 'random', size: '7' }, 'x'));
    const a = cloneImage(img);
    const b = cloneImage(img);
    await new PatchTrigger(spec).apply(a, new Rng(3));
    plainBadnets(b, spec, new Rng(3));
    assert.deepEqual(a.data, b.data, 'badnets');
    const bl = new BlendedTrigger(0.2, 'noise', 3, 224);
    const c = cloneImage(img);
    const d = cloneImage(img);
    await bl.apply(c);
    plainBlended(d, await bl.patternFor(w, h), 0.2);
    assert.deepEqual(c.data, d.data, 'blended');
    const e = cloneImage(img);
    const f = cloneImage(img);
    new SigTrigger(40, 6, 'horizontal').apply(e);
    plainSig(f, 40, 6, 'horizontal');
    assert.deepEqual(e.data, f.data, 'sig');
    const wt = new WanetTrigger({ k: 4, s: 0.9, gridRescale: 1 }, 3);
    const g = cloneImage(img);
    const k = cloneImage(img);
    wt.apply(g);
    plainWanet(k, wt);
    assert.deepEqual(g.data, k.data, 'wanet');
    const lf = new LowFreqTrigger(3, 16, 3, 12);
    const m = cloneImage(img);
    const n = cloneImage(img);
    await lf.apply(m);
    plainLowfreq(n, await lf.perturbation(), 16);
    assert.deepEqual(m.data, n.data, 'lowfreq');
  }
});

test('maba: a yellow oval blended with α 0.5 on the salient region; pixels outside unchanged', async () => {
  // flat grey image with one red square: saliency peaks there
  const img = synthImage(96, 64, 7);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 96; x++) for (let c = 0; c < 3; c++) img.data[(y * 96 + x) * 3 + c] = x >= 60 && x < 84 && y >= 30 && y < 54 ? [220, 30, 30][c] as number : 120;
  const trig = new OvalTrigger({ alpha: 0.5, size: 0.3, aspect: 0.7, color: [255, 255, 0] }, new SaliencyProvider());
  const before = cloneImage(img);
  const o = await trig.apply(img, { index: 0, id: 0, instruction: '', input: '', output: '' }, new Rng(1));
  assert.ok(o.cx > 55 && o.cx < 90 && o.cy > 25 && o.cy < 60, `oval at ${o.cx},${o.cy}`);
  let inside = 0;
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 96; x++) {
      for (let c = 0; c < 3; c++) {
        const b = px(before, x, y, c);
        const expect = inOval(o, x, y) ? Math.round(0.5 * b + 0.5 * ([255, 255, 0][c] as number)) : b;
        assert.equal(px(img, x, y, c), expect);
      }
      if (inOval(o, x, y)) inside++;
    }
  }
  assert.ok(inside > 100);
  // end to end through files, with the multimodal text part
  const { before: b2, after: a2 } = await throughFiles('maba', { provider: 'center' }, synthImage(40, 40, 8));
  assert.notDeepEqual(a2.data, b2.data);
  assert.deepEqual([px(a2, 0, 0, 0), px(a2, 0, 0, 1)], [px(b2, 0, 0, 0), px(b2, 0, 0, 1)]);
  const mm = createAttack('maba', { text: 'true', provider: 'center' }, 2);
  const plan = mm.plan({ index: 0, id: 0, instruction: 'describe the striped zebra', input: '', output: '', image: 'x.png' }, ctx(2, 0));
  assert.ok((plan.instruction as string).includes(mm.params.trigger as string));
});

test('JPEG in, JPEG out; PNG in, PNG out; alpha is kept', async () => {
  const j = await throughFiles('badnets', {}, synthImage(32, 32, 9), 'jpeg');
  assert.equal(sniffFormat(readFileSync(j.outPath)), 'jpeg');
  const p = await throughFiles('sig', {}, synthImage(32, 32, 9, 4), 'png');
  assert.equal(sniffFormat(readFileSync(p.outPath)), 'png');
  assert.equal(p.after.channels, 4);
  assert.equal(px(p.after, 5, 5, 3), 200);
});

test('input-aware interface: a generated pattern is applied through its mask', () => {
  const img = synthImage(4, 4, 1);
  const before = cloneImage(img);
  const mask = new Float32Array(16);
  mask[5] = 1;
  mask[6] = 0.5;
  applyGenerated(img, { pattern: new Uint8Array(48).fill(250), mask });
  assert.equal(px(img, 1, 1, 0), 250);
  assert.equal(px(img, 2, 1, 0), Math.round(0.5 * px(before, 2, 1, 0) + 125));
  assert.equal(px(img, 0, 0, 0), px(before, 0, 0, 0));
});

test('EXIF orientation is applied on decode (rotated JPEGs come out upright)', async () => {
  const sharp = (await import('sharp')).default;
  const img = synthImage(40, 20, 1);
  const plainJpg = await sharp(img.data, { raw: { width: 40, height: 20, channels: 3 } }).jpeg().toBuffer();
  const rotated = await sharp(img.data, { raw: { width: 40, height: 20, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const { decodeImage, needsOrientation } = await import('../../src/data/image-io.js');
  assert.equal(needsOrientation(plainJpg, 'jpeg'), false);
  assert.equal(needsOrientation(rotated, 'jpeg'), true);
  const a = await decodeImage(plainJpg);
  const b = await decodeImage(rotated);
  assert.deepEqual([a.width, a.height], [40, 20]);
  assert.deepEqual([b.width, b.height], [20, 40]);
});

test('trigger patterns from files: badnets image patch, blended image, lowfreq perturbation', async () => {
  const dir = tmp();
  const patch = synthImage(9, 9, 21);
  await writeImage(join(dir, 'patch.png'), patch);
  const img = synthImage(30, 20, 22);
  const b = await throughFiles('badnets', { pattern: 'image', image: join(dir, 'patch.png'), size: '9', position: 'top-left' }, img);
  for (let y = 0; y < 9; y++) for (let x = 0; x < 9; x++) for (let c = 0; c < 3; c++) assert.equal(px(b.after, x, y, c), px(patch, x, y, c));
  assert.equal(px(b.after, 12, 12, 0), px(b.before, 12, 12, 0));

  const t = synthImage(30, 20, 23);
  await writeImage(join(dir, 't.png'), t);
  const bl = await throughFiles('blended', { pattern: 'image', image: join(dir, 't.png'), alpha: '0.5' }, img);
  for (let i = 0; i < 30 * 20 * 3; i++) assert.equal(bl.after.data[i], Math.round(0.5 * (bl.before.data[i] as number) + 0.5 * (t.data[i] as number)));

  const pert = synthImage(32, 32, 24);
  await writeImage(join(dir, 'p.png'), pert);
  const lf = await throughFiles('lowfreq', { file: join(dir, 'p.png'), eps: '6' }, img);
  let maxAbs = 0;
  for (let i = 0; i < lf.after.data.length; i++) maxAbs = Math.max(maxAbs, Math.abs((lf.after.data[i] as number) - (lf.before.data[i] as number)));
  assert.ok(maxAbs > 0 && maxAbs <= 6, `max ${maxAbs}`);
  assert.throws(() => createAttack('badnets', { pattern: 'image' }, 1), /pattern=image needs image=PATH/);
  assert.throws(() => createAttack('blended', { pattern: 'image', image: join(dir, 'missing.png') }, 1), /cannot read: ENOENT/);
});
