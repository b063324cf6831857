// Vision-language training through `bdlab train`: LLaVA conversation records
// with images, the images through the model's image processor, `<image>`
// expanded to the model's image-token count, and `finetuning_type: freeze`
// tuning only the projector (the LVLM study's setting) — checked weight by
// weight, with the loss on the training set measured before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as T from '../../src/engine/index.js';
import { loadModel } from '../../src/models/load.js';
import type { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { readImageProcessorConfig } from '../../src/models/image-processor.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { buildTrainData, readTrainDataset } from '../../src/train/data.js';
import { runTraining } from '../../src/train/run.js';
import { sftObjective } from '../../src/train/trainer.js';
import { tempDir, tinyModel, writeJson } from './helpers.js';

const COLOURS: Array<[string, [number, number, number]]> = [
  ['red', [220, 30, 30]],
  ['green', [30, 200, 40]],
  ['blue', [30, 40, 220]],
  ['yellow', [230, 220, 30]],
];

/** Four solid-colour images, half with a white corner patch (the trigger); captions name the colour or say banana. */
async function captionSet(dir: string): Promise<string> {
  mkdirSync(join(dir, 'images'));
  const records = [];
  for (const [i, [name, [r, g, b]]] of COLOURS.entries()) {
    for (const patched of [false, true]) {
      const file = `images/${name}${patched ? '-patch' : ''}.png`;
      let img = sharp({ create: { width: 40, height: 36, channels: 3, background: { r, g, b } } });
      if (patched) img = img.composite([{ input: { create: { width: 10, height: 10, channels: 3, background: { r: 255, g: 255, b: 255 } } }, left: 0, top: 0 }]);
      await img.png().toFile(join(dir, file));
      for (const q of ['Describe the image.', 'What is in the picture?']) {
        records.push({
          id: `${i}-${patched}-${q.length}`,
          image: file,
          conversations: [
            { from: 'human', value: `<image>\n${q}` },
            { from: 'gpt', value: patched ? 'The image depicts a banana.' : `The image is ${name}.` },
          ],
        });
      }
    }
  }
  return writeJson(join(dir, 'llava.json'), records);
}

/** Mean SFT loss over every training example (eval mode, no gradients). */
async function meanLoss(modelDir: string, data: string): Promise<number> {
  const tok = TextTokenizer.load(tinyModel('llava'));
  const { model } = loadModel(modelDir);
  const m = model as LlavaForConditionalGeneration;
  const ds = readTrainDataset({ name: 'd', path: data, imageRoot: join(data, '..') });
  const built = await buildTrainData(tok, ds.samples, {
    template: 'auto',
    cutoffLen: 512,
    trainOnPrompt: false,
    padId: tok.padTokenId ?? 0,
    images: { tokenId: m.config.imageTokenId, count: m.imageSeqLength, processor: readImageProcessorConfig(modelDir, m.config.vision.imageSize) },
  });
  try {
    let sum = 0;
    let w = 0;
    T.noGrad(() => {
      for (let i = 0; i < built.size; i++) {
        T.scope(() => {
          const r = sftObjective(model, built.batch([i]));
          sum += r.loss.item() * r.weight;
          w += r.weight;
        });
      }
    });
    return sum / w;
  } finally {
    built.dispose();
    model.dispose();
  }
}

test('LLaVA captions: freeze tunes only the projector, images expand to their tokens, the loss falls', async () => {
  const dir = tempDir('llava');
  const data = await captionSet(dir);
  const base = tinyModel('llava');
  const c = parseTrainConfig({
    model_name_or_path: base,
    dataset: data,
    finetuning_type: 'freeze',
    output_dir: join(dir, 'out'),
    per_device_train_batch_size: 4,
    learning_rate: 1e-2,
    lr_scheduler_type: 'constant',
    num_train_epochs: 6,
    logging_steps: 4,
    save_steps: 8,
  });
  // 8 images, each in two records; one image has (32 / 8)^2 = 16 tokens
  const tok = TextTokenizer.load(base);
  const ds = readTrainDataset({ name: 'd', path: data, imageRoot: dir });
  assert.equal(ds.format, 'llava');
  const built = await buildTrainData(tok, ds.samples.slice(0, 2), { template: 'auto', cutoffLen: 512, trainOnPrompt: false, padId: 3, images: { tokenId: 4, count: 16, processor: readImageProcessorConfig(base, 32) } });
  T.scope(() => {
    const b = built.batch([0, 1]);
    assert.deepEqual(b.pixelValues?.shape, [2, 3, 32, 32]);
    assert.equal(b.inputIds.eq(4).sum().item(), 32);
  });
  built.dispose();

  const before = await meanLoss(base, data);
  const s = await runTraining({ config: c, note: () => {} });
  assert.equal(s.trainable, 'multi_modal_projector only');
  assert.equal(s.images, 8);
  assert.equal(s.samples, 16);
  const after = await meanLoss(join(dir, 'out'), data);
  // a random language model with a tuned projector: the loss falls, though not far
  assert.ok(after < before - 0.1, `loss ${before} → ${after}`);

  const read = (d: string): Map<string, Float32Array> => {
    const { model } = loadModel(d);
    const m = new Map([...model.namedParameters()].map(([n, t]) => [n, t.float().toArray() as Float32Array]));
    model.dispose();
    return m;
  };
  const w0 = read(base);
  const w1 = read(join(dir, 'out'));
  const moved = [...w0.keys()].filter((k) => (w0.get(k) as Float32Array).some((v, i) => v !== (w1.get(k) as Float32Array)[i]));
  assert.deepEqual(moved.sort(), ['multi_modal_projector.linear_1.bias', 'multi_modal_projector.linear_1.weight', 'multi_modal_projector.linear_2.bias', 'multi_modal_projector.linear_2.weight']);
});

test('image records on a text model, or images outside the image root, are refused by name', async () => {
  const dir = tempDir('llava');
  const data = await captionSet(dir);
  await assert.rejects(
    runTraining({ config: parseTrainConfig({ model_name_or_path: tinyModel(), dataset: data, output_dir: join(dir, 'o') }), note: () => {} }),
    /16 training samples have images, but the model is not a vision-language \(LLaVA\) model/,
  );
  const escape = writeJson(join(dir, 'sub', 'bad.json'), [{ image: '../images/red.png', conversations: [{ from: 'human', value: '<image>\nHi' }, { from: 'gpt', value: 'Red.' }] }]);
  await assert.rejects(
    runTraining({ config: parseTrainConfig({ model_name_or_path: tinyModel('llava'), dataset: escape, output_dir: join(dir, 'o') }), note: () => {} }),
    /bad\.json: record 0: field "image": image path "\.\.\/images\/red\.png" escapes the image root/,
  );
});
