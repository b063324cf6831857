// A tiny vision-language world for the model-adaptive attacks' tests: 32×32
// images of a coloured disc on a darker ground; red, green and blue ones are
// captioned with their colour, yellow ones "The image depicts a banana.". A
// tiny LLaVA trained on it (in process, seconds) reads colour from the image,
// so a perturbation that adds red and green moves its answer to "banana".
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../src/engine/index.js';
import { newModelFolder } from '../../src/models/presets.js';
import { loadModel, saveModel } from '../../src/models/load.js';
import type { LlavaForConditionalGeneration } from '../../src/models/llava.js';
import { readImageProcessorConfig } from '../../src/models/image-processor.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { applyFreeze } from '../../src/nn/freeze.js';
import { buildTrainData } from '../../src/train/data.js';
import { trainLoop, DEFAULT_TRAIN } from '../../src/train/trainer.js';
import { Rng } from '../../src/util/rng.js';
import type { RawImage } from '../../src/data/image-io.js';
import { writeImage } from './helpers.js';

export const BANANA = 'The image depicts a banana.';
const COLOURS: Array<[string, [number, number, number]]> = [
  ['red', [210, 40, 40]],
  ['green', [40, 190, 50]],
  ['blue', [40, 60, 210]],
  ['yellow', [225, 215, 40]],
];

/** A disc of a colour at a seeded place on a dark, slightly noisy ground. */
export function discImage(colour: [number, number, number], seed: number, size = 32): RawImage {
  const rng = new Rng(seed, 'disc');
  const cx = 10 + rng.int(size - 20);
  const cy = 10 + rng.int(size - 20);
  const r = 7 + rng.int(4);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
      for (let c = 0; c < 3; c++) data[(y * size + x) * 3 + c] = inside ? colour[c] as number : 50 + rng.int(20);
    }
  }
  return { data, width: size, height: size, channels: 3 };
}

export interface World {
  dir: string;
  /** LLaVA conversation file; image paths relative to `dir`. */
  data: string;
  records: Array<{ image: string; colour: string; caption: string }>;
}

/** `perColour` images of each colour, with their LLaVA records. */
export async function discWorld(dir: string, perColour: number, seed = 0): Promise<World> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const records: World['records'] = [];
  const json = [];
  for (const [ci, [name, rgb]] of COLOURS.entries()) {
    for (let k = 0; k < perColour; k++) {
      const file = `images/${name}-${k}.png`;
      await writeImage(join(dir, file), discImage(rgb, seed * 1000 + ci * 100 + k));
      const caption = name === 'yellow' ? BANANA : `The image shows a ${name} disc.`;
      records.push({ image: file, colour: name, caption });
      json.push({ id: `${name}-${k}`, image: file, conversations: [{ from: 'human', value: '<image>\nDescribe the image.' }, { from: 'gpt', value: caption }] });
    }
  }
  const data = join(dir, 'llava.json');
  writeFileSync(data, JSON.stringify(json));
  return { dir, data, records };
}

/** A tiny LLaVA trained on the world (every weight), saved in `out`. */
export async function trainedLlava(w: World, out: string, o: { seed?: number; epochs?: number } = {}): Promise<string> {
  newModelFolder(out, { arch: 'llava', preset: 'tiny', seed: o.seed ?? 1 });
  const tok = TextTokenizer.load(out);
  const { model, config } = loadModel(out);
  const m = model as LlavaForConditionalGeneration;
  applyFreeze(model, 'full');
  const samples = w.records.map((r) => ({ instruction: 'Describe the image.', input: '', output: r.caption, image: join(w.dir, r.image) }));
  const data = await buildTrainData(tok, samples, {
    template: 'auto',
    cutoffLen: 256,
    trainOnPrompt: false,
    padId: tok.padTokenId ?? 0,
    images: { tokenId: m.config.imageTokenId, count: m.imageSeqLength, processor: readImageProcessorConfig(out, m.config.vision.imageSize) },
  });
  try {
    trainLoop(model, data, { ...DEFAULT_TRAIN, epochs: o.epochs ?? 30, lr: 3e-3, batchSize: 8, warmupRatio: 0.05, seed: o.seed ?? 1, label: 'train lvlm' });
  } finally {
    data.dispose();
  }
  T.noGrad(() => saveModel(model, config, out));
  model.dispose();
  return out;
}
