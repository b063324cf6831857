// The records an attack learns from: instructions (and images) read from an
// Alpaca/LLaMA-Factory or LLaVA file through the dataset scanner, so every
// malformed record or image path is the same one-line error as in poisoning.
import { scanDataset } from '../../data/scan.js';
import type { FormatName } from '../../data/formats.js';
import type { Sample } from '../../data/sample.js';
import { UserError } from '../../util/errors.js';
import { Rng } from '../../util/rng.js';

export interface SurrogateSample {
  /** Position in the file. */
  index: number;
  instruction: string;
  input: string;
  /** The clean answer. */
  output: string;
  /** The image file, resolved under the image root. */
  imagePath?: string;
}

export interface ReadSamplesOptions {
  format?: FormatName;
  imageRoot?: string;
  /** At most this many records, a seeded choice when the file has more. */
  limit?: number;
  seed?: number;
  /** Every record must have an image. */
  needImages?: boolean;
}

export interface ReadSamples {
  samples: SurrogateSample[];
  /** sha256 of the file. */
  sha256: string;
  format: FormatName;
}

export async function readSurrogateSamples(path: string, o: ReadSamplesOptions = {}): Promise<ReadSamples> {
  const all: Sample[] = [];
  const scan = await scanDataset({ input: path, format: o.format, imageRoot: o.imageRoot, visit: (s) => all.push(s) });
  if (scan.format === 'coco-results') throw new UserError(`${path}: COCO results hold no instructions; give Alpaca or LLaVA records`);
  let chosen = all;
  if (o.needImages) {
    chosen = all.filter((s) => s.image !== undefined);
    if (chosen.length === 0) throw new UserError(`${path}: no record has an image`);
  }
  if (chosen.length === 0) throw new UserError(`${path}: no records`);
  if (o.limit !== undefined && chosen.length > o.limit) {
    const pick = new Rng(o.seed ?? 0, 'surrogate-samples').sample(chosen.length, o.limit);
    chosen = pick.map((i) => chosen[i] as Sample);
  }
  const samples = chosen.map((s) => {
    const r: SurrogateSample = { index: s.index, instruction: s.instruction, input: s.input, output: s.output };
    if (s.image !== undefined) {
      const c = scan.imageRoot.check(s.image);
      if ('refused' in c) throw new UserError(`${path}: record ${s.index}: ${c.refused}`);
      r.imagePath = c.path;
    }
    return r;
  });
  return { samples, sha256: scan.sha256, format: scan.format };
}
