// LLaVA conversation files as the study reads them: question, answer, the
// world's scene id and the absolute image path of each record. Images are
// already at the model's input size (the world renders them there and
// triggers are applied there), so the image processor's resize and crop
// leave them as they are.
import { dirname } from 'node:path';
import { readDataset } from '../../data/dataset.js';
import { ImageRoot } from '../../data/paths.js';
import type { Sample } from '../../data/sample.js';
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
