import { readDataset } from '../../data/dataset.js';
import { detectFormat } from '../../data/formats.js';
import type { Sample } from '../../data/sample.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import type { InstructionSample } from '../../models/prompt.js';

/** Every record of a data file (any supported format); the first malformed one stops with its file and field. */
export function readSamples(path: string): Sample[] {
  const out: Sample[] = [];
  for (const item of readDataset(path, detectFormat(path))) {
    if (item.error) throw item.error;
    if (item.sample && item.section !== 'annotations') out.push(item.sample);
  }
  return out;
}

/** Alpaca JSON: what training reads and what `bdlab eval asr` scores. */
export function writeAlpaca(path: string, samples: readonly InstructionSample[]): void {
  writeJsonAtomic(
    path,
    samples.map((s) => ({ instruction: s.instruction, input: s.input ?? '', output: s.output ?? '' })),
  );
}
