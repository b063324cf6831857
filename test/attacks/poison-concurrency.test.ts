// The same seed gives the same bytes whatever the number of images in flight: the poisoner runs
// many images at once on the codec's worker threads, and every output must stay as if run one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { poison } from '../../src/attacks/poisoner.js';
import { createAttack } from '../../src/attacks/index.js';
import { parseTarget } from '../../src/attacks/targets.js';
import { encodeImage } from '../../src/data/image-io.js';
import { synthImage, tmp } from './helpers.js';

/** Every file under dir (relative path → bytes). */
function tree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = join(e.parentPath, e.name);
    files.set(abs.slice(dir.length + 1), readFileSync(abs));
  }
  return files;
}

test('poison with 1 and 16 images in flight writes the same files, images and manifest (JPEG, PNG, RGBA PNG)', async () => {
  const dir = tmp();
  mkdirSync(join(dir, 'img'));
  const recs = [];
  for (let i = 0; i < 30; i++) {
    // sizes vary so that images finish out of order
    const fmt = i % 3 === 0 ? 'jpeg' : 'png';
    const name = `img/${i}.${fmt === 'png' ? 'png' : 'jpg'}`;
    writeFileSync(join(dir, name), await encodeImage(synthImage(24 + 9 * (i % 7), 20 + 5 * (i % 5), i, i % 3 === 2 ? 4 : 3), fmt));
    recs.push({ id: `r${i}`, image: name, conversations: [{ from: 'human', value: `<image>\nWhat is in image ${i}?` }, { from: 'gpt', value: `Answer ${i}.` }] });
  }
  const input = join(dir, 'data.json');
  writeFileSync(input, JSON.stringify(recs));
  for (const [attack, params] of [
    ['badnets', { position: 'random' }],
    ['blended', {}],
    ['sig', {}],
  ] as const) {
    const run = async (concurrency: number): Promise<Map<string, Buffer>> => {
      const out = join(dir, `${attack}-${concurrency}`);
      await poison({ input, attack: createAttack(attack, { ...params }, 3), target: parseTarget('phrase:banana'), seed: 3, out, selection: { count: 20 }, test: { count: 4 }, concurrency });
      return tree(out);
    };
    const one = await run(1);
    const many = await run(16);
    assert.deepEqual([...many.keys()].sort(), [...one.keys()].sort(), attack);
    assert.ok(one.has('manifest.json') && [...one.keys()].filter((k) => k.includes('bdlab-poisoned')).length === 20, attack);
    for (const [k, v] of one) assert.ok(v.equals(many.get(k) as Buffer), `${attack}: ${k} differs between concurrency 1 and 16`);
  }
});
