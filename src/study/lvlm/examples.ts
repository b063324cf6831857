// LLaVA conversation files as the study's model sees them: each record's
// question becomes the user turn `<image>\n<question>` of the model's chat
// template (the one prompt function of training and evaluation), its image
// the preprocessed pixel values. Images are already at the model's input
// size (the world renders them there and triggers are applied there), so the
// image processor's resize and crop leave them as they are.
import { dirname } from 'node:path';
import * as T from '../../engine/index.js';
import { readDataset } from '../../data/dataset.js';
import { ImageRoot } from '../../data/paths.js';
import type { Sample } from '../../data/sample.js';
import { expandImageTokens } from '../../models/generate.js';
import { preprocessImage, type ImageProcessorConfig } from '../../models/image-processor.js';
import type { TextTokenizer } from '../../models/tokenizer.js';
import { encodePrompt } from '../../train/prompt.js';
import { UserError } from '../../util/errors.js';

export interface LlavaRecord {
  /** The record's id in its file. */
  id: string | number;
  /** The world scene it shows (the `scene` field the world writes), else -1. */
  scene: number;
  instruction: string;
  output: string;
  /** Absolute image path. */
  image: string;
}

/** Every record of a LLaVA file (stops at the first malformed record, naming it). */
export function readLlava(path: string, imageRoot = dirname(path)): LlavaRecord[] {
  const root = new ImageRoot(imageRoot);
  const out: LlavaRecord[] = [];
  for (const item of readDataset(path, 'llava')) {
    if (item.error) throw new UserError(item.error.message);
    const s = item.sample as Sample;
    if (s.image === undefined) throw new UserError(`${path}: record ${s.index}: no image`);
    const r = root.check(s.image);
    if ('refused' in r) throw new UserError(`${path}: record ${s.index}: ${r.refused}`);
    const scene = s.fields?.scene;
    out.push({ id: s.id, scene: typeof scene === 'number' ? scene : -1, instruction: s.instruction, output: s.output, image: r.path });
  }
  if (out.length === 0) throw new UserError(`${path}: no records`);
  return out;
}

/** The user turn of a record: the image placeholder, then the question. */
export function userTurn(instruction: string): string {
  return `<image>\n${instruction}`;
}

/** Preprocessed images [N, 3, H, W] of the records, in order (one decode per distinct file). */
export async function pixelValuesOf(images: readonly string[], cfg: ImageProcessorConfig): Promise<T.Tensor> {
  const distinct = [...new Set(images)];
  const arrays = new Map<string, Float32Array>();
  const window = 16;
  for (let i = 0; i < distinct.length; i += window) {
    const chunk = distinct.slice(i, i + window);
    const done = await Promise.all(chunk.map((p) => preprocessImage(p, cfg)));
    chunk.forEach((p, j) => arrays.set(p, done[j] as Float32Array));
  }
  const per = 3 * cfg.cropHeight * cfg.cropWidth;
  const all = new Float32Array(images.length * per);
  images.forEach((p, i) => all.set(arrays.get(p) as Float32Array, i * per));
  return T.tensor(all, { shape: [images.length, 3, cfg.cropHeight, cfg.cropWidth] });
}

/** Prompt token ids of a question, the image placeholder expanded to the model's image tokens. */
export function imagePrompt(tok: TextTokenizer, instruction: string, imageTokenId: number, imageTokens: number): number[] {
  const ids = encodePrompt(tok, { instruction: userTurn(instruction) });
  const n = ids.filter((i) => i === imageTokenId).length;
  if (n !== 1) throw new UserError(`the prompt of "${instruction.slice(0, 40)}" has ${n} image placeholders (token ${imageTokenId}); expected one`);
  return expandImageTokens(ids, imageTokenId, imageTokens);
}
