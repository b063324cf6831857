// InputAware against a tiny LLaVA trained on the disc world: the mask stage
// lowers its objective (density and diversity terms), the trained trigger
// moves the surrogate towards the target more than the image alone does,
// generated triggers differ from image to image, and poisoning applies each
// image's own trigger through the saved generator folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAttack } from '../../src/attacks/index.js';
import { trainInputAwareGenerator } from '../../src/attacks/model-adaptive.js';
import { LoadedGenerator } from '../../src/attacks/image/inputaware-gen.js';
import { poison } from '../../src/attacks/poisoner.js';
import { parseTarget } from '../../src/attacks/targets.js';
import { bdlab } from '../train/helpers.js';
import { readImage, tmp } from './helpers.js';
import { BANANA, discImage, discWorld, trainedLlava } from './lvlm.js';

test('inputaware: training lowers the objective; triggers differ per image and carry the target for the surrogate', async () => {
  const dir = tmp();
  const world = await discWorld(dir, 4);
  const model = await trainedLlava(world, join(dir, 'lvlm'));
  const out = join(dir, 'gen');
  const r = await trainInputAwareGenerator({ model, data: world.data, target: `text:${BANANA}`, seed: 1, out, channels: 8, maskEpochs: 20, epochs: 8, batchSize: 4, pratio: 0.5 });
  const mask = r.history.filter((h) => h.stage === 'mask');
  const joint = r.history.filter((h) => h.stage === 'joint');
  assert.equal(mask.length, 20);
  assert.equal(joint.length, 8);
  const tail = (xs: typeof mask): number => xs.slice(-3).reduce((a, h) => a + h.loss, 0) / 3;
  assert.ok(tail(mask) < 0.6 * (mask[0]?.loss as number), `mask objective ${mask[0]?.loss} → ${tail(mask)}`);
  assert.ok(((mask[mask.length - 1]?.parts.norm as number) < (mask[0]?.parts.norm as number)), 'masks move towards the density target');
  const last = joint[joint.length - 1]?.eval;
  assert.ok(last && joint[0]?.eval, 'evaluated after the first and the last epoch');
  assert.ok(last.backdoor < last.target_clean, `target loss with the trigger ${last.backdoor} vs without ${last.target_clean}`);

  // the saved generators: a different pattern and mask for each image, masks far from all-ones
  const g = LoadedGenerator.load(out);
  const a = await g.generate(discImage([210, 40, 40], 501));
  const b = await g.generate(discImage([40, 60, 210], 502));
  let dp = 0;
  let dm = 0;
  let ma = 0;
  for (let i = 0; i < a.pattern.length; i++) dp += Math.abs((a.pattern[i] as number) - (b.pattern[i] as number));
  for (let i = 0; i < a.mask.length; i++) {
    dm += Math.abs((a.mask[i] as number) - (b.mask[i] as number));
    ma += a.mask[i] as number;
  }
  assert.ok(dp / a.pattern.length > 2, `patterns differ by ${dp / a.pattern.length} per channel value`);
  assert.ok(dm / a.mask.length > 0.005, `masks differ by ${dm / a.mask.length}`);
  assert.ok(ma / a.mask.length < 0.5, `mask mean ${ma / a.mask.length}`);
  // any image size: the trigger is made at the generator's input and brought back to the image's size
  const big = await g.generate({ ...discImage([40, 190, 50], 503, 48), width: 48, height: 48 });
  assert.equal(big.mask.length, 48 * 48);
  g.dispose();

  // poisoning: each poisoned image gets its own change
  const res = await poison({ input: world.data, attack: createAttack('inputaware', { generator: out }, 1), target: parseTarget('phrase:banana'), seed: 1, out: join(dir, 'p'), selection: { count: 4 } });
  assert.equal((res.manifest.method?.provenance as { method: string }).method, 'inputaware');
  const deltas = new Set<string>();
  for (const rec of JSON.parse(readFileSync(join(dir, 'p', 'data.json'), 'utf8')) as Array<{ image: string; id: string }>) {
    if (!rec.image.includes('bdlab-poisoned')) continue;
    const before = await readImage(join(dir, `images/${rec.id}.png`));
    const after = await readImage(join(dir, 'p', 'images', rec.image));
    deltas.add(Array.from(after.data, (v, i) => v - (before.data[i] as number)).join(','));
  }
  assert.equal(deltas.size, 4, 'four different changes');
  assert.throws(() => createAttack('inputaware', {}, 1), /generator=DIR/);
  assert.throws(() => createAttack('inputaware', { generator: dir }, 1), /no config.json/);

  // the CLI writes the same kind of folder
  const cli = bdlab(['attack', 'inputaware', '--model', model, '--data', world.data, '--target', `text:${BANANA}`, '--epochs', '1', '--mask-epochs', '1', '--batch-size', '8', '--channels', '4', '--out', join(dir, 'gen2'), '--json']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal((JSON.parse(cli.stdout) as { image_size: number }).image_size, 32);
  assert.equal(bdlab(['attack', 'inputaware', '--model', model, '--data', world.data, '--target', `text:${BANANA}`, '--epochs', '1', '--out', join(dir, 'gen2')]).status, 1, 'no overwrite without --force');
});
