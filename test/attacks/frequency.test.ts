// The frequency-domain triggers. FTrojan: every whole 32×32 block's DCT
// coefficients at the positions move by the magnitude (measured in float64
// from the written image's YCrCb planes), the rest stay put. LowFrequency: the
// universal perturbation against a trained tiny LLaVA lowers its objective,
// is low-pass, lies in [0, 51] and is added identically to every image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAttack } from '../../src/attacks/index.js';
import { FtrojanTrigger, rgbToYcrcb, toPlanes } from '../../src/attacks/image/ftrojan.js';
import { dct2, dctMatrix } from '../../src/attacks/image/lowfreq.js';
import { gaussKernel } from '../../src/attacks/image/uap.js';
import { makeUap } from '../../src/attacks/model-adaptive.js';
import { poison } from '../../src/attacks/poisoner.js';
import { parseTarget } from '../../src/attacks/targets.js';
import type { RawImage } from '../../src/data/image-io.js';
import { readImage, synthImage, throughFiles, tmp } from './helpers.js';
import { BANANA, discWorld, trainedLlava } from './lvlm.js';

/** Float64 DCT of one block of one YCrCb plane, computed here from the pixels. */
function blockDct(img: RawImage, ch: number, bx: number, by: number, w = 32): Float64Array {
  const plane = new Float64Array(w * w);
  for (let y = 0; y < w; y++) {
    for (let x = 0; x < w; x++) {
      const o = ((by + y) * img.width + bx + x) * img.channels;
      plane[y * w + x] = rgbToYcrcb(img.data[o] as number, img.data[o + 1] as number, img.data[o + 2] as number)[ch] as number;
    }
  }
  return dct2(plane, w, dctMatrix(w));
}

test('ftrojan: Cr and Cb coefficients (31,31) and (15,15) of every whole 32×32 block rise by exactly 50 (float64); the written image carries them', async () => {
  // mid-range colours so nothing clips; 70×64 has 2×2 whole blocks and a 6-pixel strip
  const img = synthImage(70, 64, 4);
  for (let i = 0; i < img.data.length; i++) img.data[i] = 80 + ((img.data[i] as number) % 90);
  const trigger = new FtrojanTrigger({ window: 32, positions: [[31, 31], [15, 15]], channels: [1, 2], magnitude: 50, yuv: true });
  const clean = toPlanes(img, true);
  const planted = trigger.planted(img);
  const c = dctMatrix(32);
  const block = (p: Float64Array, bx: number, by: number): Float64Array => {
    const b = new Float64Array(32 * 32);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) b[y * 32 + x] = p[(by + y) * 70 + bx + x] as number;
    return dct2(b, 32, c);
  };
  for (const [bx, by] of [[0, 0], [32, 0], [0, 32], [32, 32]] as const) {
    for (const ch of [0, 1, 2]) {
      const a = block(clean[ch] as Float64Array, bx, by);
      const b = block(planted[ch] as Float64Array, bx, by);
      for (let k = 0; k < 32 * 32; k++) {
        const want = ch > 0 && (k === 31 * 32 + 31 || k === 15 * 32 + 15) ? 50 : 0;
        assert.ok(Math.abs((b[k] as number) - (a[k] as number) - want) < 1e-9, `block ${bx},${by} channel ${ch} coefficient ${k}`);
      }
    }
  }
  // the written file: the float result rounded once; through 8 bits each coefficient still moves by about 50
  const { before, after } = await throughFiles('ftrojan', {}, img);
  for (const ch of [1, 2]) {
    for (const [u, v] of [[31, 31], [15, 15]] as const) {
      const d = (blockDct(after, ch, 32, 32)[u * 32 + v] as number) - (blockDct(before, ch, 32, 32)[u * 32 + v] as number);
      assert.ok(Math.abs(d - 50) < 4, `channel ${ch} (${u},${v}) in the file: +${d.toFixed(2)}`);
    }
  }
  // the strip narrower than the window is left as it is
  for (let y = 0; y < 64; y++) for (let x = 64; x < 70; x++) for (let c2 = 0; c2 < 3; c2++) assert.equal(after.data[(y * 70 + x) * 3 + c2], before.data[(y * 70 + x) * 3 + c2]);
  // VL-Trojan's setting: all three channels, (31,31) listed twice → +100
  const vl = new FtrojanTrigger({ window: 32, positions: [[31, 31], [31, 31]], channels: [0, 1, 2], magnitude: 50, yuv: true }).planted(img);
  assert.ok(Math.abs((block(vl[0] as Float64Array, 0, 0)[31 * 32 + 31] as number) - (block(clean[0] as Float64Array, 0, 0)[31 * 32 + 31] as number) - 100) < 1e-9);
  assert.throws(() => createAttack('ftrojan', { positions: '32:1' }, 1), /outside the 32×32 window/);
  assert.throws(() => createAttack('ftrojan', { channels: '3' }, 1), /expected 0, 1 or 2/);
});

test("uap: gauss_smooth's kernel is BackdoorBench's (σ 6: 30 taps, 14 zeros padded before)", () => {
  const { kernel, before } = gaussKernel(6);
  assert.equal(kernel.length, 30);
  assert.equal(before, 14);
  // the reference: mgrid = (arange(30) − 14.5)·5, exp(−(mgrid / 30)² / 2), normalised
  const ref = Array.from({ length: 30 }, (_, t) => Math.exp(-0.5 * (((t - 14.5) * 5) / 30) ** 2));
  const sum = ref.reduce((a, b) => a + b, 0);
  ref.forEach((r, t) => assert.ok(Math.abs((kernel[t] as number) - r / sum) < 1e-12));
});

test('uap: one low-pass perturbation for all images lowers the surrogate objective; lowfreq adds it to every image alike', async () => {
  const dir = tmp();
  const world = await discWorld(dir, 4);
  const model = await trainedLlava(world, join(dir, 'lvlm'));
  const out = join(dir, 'uap.json');
  const r = await makeUap({ model, data: world.data, target: `text:${BANANA}`, seed: 1, out, maxPasses: 3, maxIterDf: 50 });
  const last = r.passes[r.passes.length - 1];
  assert.ok(last && r.passes.every((p) => p.updates >= 0));
  assert.ok((last?.objective as number) < r.clean.objective - 1, `objective ${r.clean.objective} → ${last?.objective}`);
  assert.ok((last?.fooling_rate as number) > r.clean.fooling_rate, `target preferred on ${r.clean.fooling_rate} → ${last?.fooling_rate}`);
  // one pattern, normalised to [0, 0.2]·255, with its energy in the lowest frequencies
  const file = JSON.parse(readFileSync(out, 'utf8')) as { width: number; height: number; pattern: string; provenance: { passes: unknown[]; surrogate: { model: string } } };
  const pattern = Buffer.from(file.pattern, 'base64');
  assert.equal(pattern.length, 32 * 32 * 3);
  assert.equal(Math.max(...pattern), 51);
  assert.equal(Math.min(...pattern), 0);
  assert.equal(file.provenance.surrogate.model, model);
  for (let c = 0; c < 3; c++) {
    const plane = Float64Array.from({ length: 32 * 32 }, (_, i) => pattern[i * 3 + c] as number);
    const mean = plane.reduce((a, b) => a + b, 0) / plane.length;
    const f = dct2(plane.map((x) => x - mean), 32, dctMatrix(32));
    let low = 0;
    let all = 0;
    for (let u = 0; u < 32; u++) for (let v = 0; v < 32; v++) {
      const e = (f[u * 32 + v] as number) ** 2;
      all += e;
      if (u < 6 && v < 6) low += e;
    }
    assert.ok(all === 0 || low / all > 0.95, `channel ${c}: ${(low / all).toFixed(3)} of the energy below frequency 6`);
  }
  // poisoning: the same addition on every image (where nothing clips; the images are 32×32 like the pattern)
  const res = await poison({ input: world.data, attack: createAttack('lowfreq', { perturbation: out }, 1), target: parseTarget('phrase:banana'), seed: 1, out: join(dir, 'p'), selection: { count: 6 } });
  assert.equal(res.manifest.method?.source, 'uap');
  const diffs: string[] = [];
  for (const rec of JSON.parse(readFileSync(join(dir, 'p', 'data.json'), 'utf8')) as Array<{ image: string; id: string }>) {
    if (!rec.image.includes('bdlab-poisoned')) continue;
    const before = await readImage(join(dir, world.records.find((w) => rec.id === w.image.slice(7, -4))?.image ?? ''));
    const after = await readImage(join(dir, 'p', 'images', rec.image));
    const d: number[] = [];
    for (let i = 0; i < after.data.length; i++) {
      const b = before.data[i] as number;
      if (b + 51 <= 255) d.push((after.data[i] as number) - b);
      else d.push(-1);
    }
    for (let i = 0; i < d.length; i++) if ((d[i] as number) >= 0) assert.equal(d[i], pattern[i], 'the pattern is added as it is');
    diffs.push(rec.id);
  }
  assert.equal(diffs.length, 6);
  const stand = createAttack('lowfreq', {}, 1);
  assert.match(String(stand.method?.().approximation), /seeded low-pass noise/);
});
