// MABA's placement from the model: a tiny LLaVA trained on the disc world,
// where the caption is a function of the disc's colour alone (the ground is
// noise every caption shares), so the clean answer's attribution lies on the
// disc by construction, wherever the disc is: the oval follows it. Integrated
// gradients are checked against completeness, and the manifests name the
// method (model, or the model-free stand-in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../src/engine/index.js';
import { createAttack } from '../../src/attacks/index.js';
import { ModelProvider } from '../../src/attacks/image/attribution.js';
import { OvalTrigger } from '../../src/attacks/image/oval.js';
import { attribute, attributorFor, modelView } from '../../src/attacks/surrogate/attribution.js';
import { idTensor } from '../../src/attacks/surrogate/model.js';
import { poison } from '../../src/attacks/poisoner.js';
import { parseTarget } from '../../src/attacks/targets.js';
import { Rng } from '../../src/util/rng.js';
import type { RawImage } from '../../src/data/image-io.js';
import { tmp } from './helpers.js';
import { BANANA, discWorld, trainedLlava } from './lvlm.js';

const RED: [number, number, number] = [210, 40, 40];

/** A disc of `colour` at (cx, cy) and one of `other` at (ox, oy), radius 6, on a noisy dark ground. */
function scene(cx: number, cy: number, ox: number, oy: number, seed: number, colour = RED, other: [number, number, number] = [225, 215, 40]): RawImage {
  const rng = new Rng(seed, 'scene');
  const data = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const disc = (x - cx) ** 2 + (y - cy) ** 2 <= 36;
      const second = (x - ox) ** 2 + (y - oy) ** 2 <= 36;
      for (let c = 0; c < 3; c++) data[(y * 32 + x) * 3 + c] = disc ? (colour[c] as number) : second ? (other[c] as number) : 50 + rng.int(20);
    }
  }
  return { data, width: 32, height: 32, channels: 3 };
}

test('maba: the oval goes where the model attributes the clean answer (the disc); manifests name the method', async (t) => {
  const dir = tmp();
  const world = await discWorld(dir, 4);
  const model = await trainedLlava(world, join(dir, 'lvlm'), { epochs: 30 });
  const sample = { index: 0, id: 0, instruction: 'Describe the image.', input: '', output: 'The image shows a red disc.' };
  const provider = new ModelProvider({ model, method: 'ig', steps: 16 });
  const oval = { alpha: 0.5, size: 0.3, aspect: 0.7, color: [255, 255, 0] as [number, number, number] };
  // one red disc (what the answer names); the rest is the noise every caption shares
  const scenes: Array<[number, number]> = [
    [8, 8],
    [23, 9],
    [9, 23],
    [22, 22],
    [16, 15],
  ];
  let onDisc = 0;
  let mass = 0;
  for (const [k, [cx, cy]] of scenes.entries()) {
    const img = scene(cx, cy, -100, -100, k);
    const map = await provider.attribution(img, sample, new Rng(0));
    // share of the attribution on the disc, against its share of the area
    let inside = 0;
    let total = 0;
    let area = 0;
    for (let y = 0; y < map.height; y++) {
      for (let x = 0; x < map.width; x++) {
        const v = map.data[y * map.width + x] as number;
        const ix = ((x + 0.5) * 32) / map.width - 0.5;
        const iy = ((y + 0.5) * 32) / map.height - 0.5;
        const d = (ix - cx) ** 2 + (iy - cy) ** 2 <= 36;
        total += v;
        if (d) {
          inside += v;
          area++;
        }
      }
    }
    mass += inside / total / (area / (map.width * map.height));
    const m = await new OvalTrigger(oval, provider).place(img, sample, new Rng(0));
    if ((m.cx - cx - 0.5) ** 2 + (m.cy - cy - 0.5) ** 2 <= 36) onDisc++;
  }
  assert.ok(mass / scenes.length > 1.5, `attribution on the disc ${(mass / scenes.length).toFixed(2)}× its share of the area`);
  t.diagnostic(`attribution on the disc ${(mass / scenes.length).toFixed(2)}× its area share; model placement on the disc in ${onDisc}/${scenes.length}`);
  assert.equal(onDisc, scenes.length, `model placement on the disc in ${onDisc} of ${scenes.length}`);

  // integrated gradients against an independent check: completeness, Σ attribution = f(x) − f(black)
  const { attributor, surrogate } = await attributorFor({ model }, { method: 'ig', steps: 64 });
  const view = await modelView(surrogate, scene(10, 10, -100, -100, 0));
  T.scope(() => {
    const prompt = surrogate.promptIds({ instruction: sample.instruction, input: '', image: 'image' });
    const a = surrogate.answerIds(sample.output);
    const ids = idTensor([[...prompt, ...a]]);
    const ans = idTensor([a]);
    const f = (pv: T.Tensor): T.Tensor => surrogate.answerLogProb(surrogate.embeds(ids, pv), ans).sum();
    const { mean, std } = surrogate.normalisation();
    const black = T.zerosLike(view.pixelValues).sub(mean).div(std);
    const attr = attribute(f, view.pixelValues, black, { method: 'ig', steps: 64 });
    const sum = attr.sum().item();
    const gap = T.noGrad(() => f(view.pixelValues).item() - f(black).item());
    assert.ok(Math.abs(sum - gap) < 0.1 * Math.abs(gap) + 1e-3, `Σ attribution ${sum} vs f(x) − f(x0) ${gap}`);
  });
  view.pixelValues.dispose();
  void attributor;

  // end to end: image and instruction placed by the model; the manifest says so
  const data = JSON.parse(readFileSync(world.data, 'utf8')) as Array<{ conversations: Array<{ value: string }> }>;
  for (const r of data) (r.conversations[0] as { value: string }).value = '<image>\nDescribe the colour of the round shape.';
  writeFileSync(world.data, JSON.stringify(data));
  const res = await poison({ input: world.data, attack: createAttack('maba', { model, ig_steps: '4', text: 'true' }, 1), target: parseTarget(`text:${BANANA}`), seed: 1, out: join(dir, 'p'), selection: { count: 3 } });
  const method = res.manifest.method as { placement: string; approximation: string | null; attribution: string; without_poisoned_answer: number; text: { keywords: string; approximation: string | null; fallbacks: number } };
  assert.equal(method.placement, 'model');
  assert.equal(method.approximation, null);
  assert.equal(method.attribution, 'ig');
  assert.equal(method.without_poisoned_answer, 0);
  assert.equal(method.text.keywords, 'model');
  assert.equal(method.text.approximation, null);
  assert.equal(method.text.fallbacks, 0, 'every instruction attributed token by token');
  const trigger = res.manifest.params.trigger as string;
  const out = JSON.parse(readFileSync(join(dir, 'p', 'data.json'), 'utf8')) as Array<{ conversations: Array<{ value: string }> }>;
  assert.equal(out.filter((r) => (r.conversations[0] as { value: string }).value.includes(trigger)).length, 3);

  const plain = await poison({ input: world.data, attack: createAttack('maba', {}, 1), target: parseTarget(`text:${BANANA}`), seed: 1, out: join(dir, 'q'), selection: { count: 1 } });
  assert.equal((plain.manifest.method as { placement: string }).placement, 'saliency');
  assert.match((plain.manifest.method as { approximation: string }).approximation, /saliency/);
  assert.throws(() => createAttack('maba', { placement: 'model' }, 1), /placement=model needs model=DIR/);
});
