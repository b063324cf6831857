/**
 * The one view of a training record that attacks, targets and shifts work on,
 * whatever the file format: an instruction (the question), an optional input,
 * the answer, and an optional image path relative to the dataset's image root.
 * Formats map their records to samples and write changed samples back into a
 * copy of the original record, so unknown fields and key order survive.
 */
export type SampleId = string | number;

export interface Sample {
  /** 0-based record index in the file (JSON array position, non-blank JSONL line, COCO `images` position). */
  index: number;
  /** The record's own id (`id`, COCO `image id`) or else its index. */
  id: SampleId;
  /** The instruction / question, without any `<image>` placeholder of the format. */
  instruction: string;
  input: string;
  /** The answer (for COCO: the first caption). */
  output: string;
  /** COCO: every caption of the image, in file order. */
  captions?: string[];
  /** Image path relative to the image root, if the record has one. */
  image?: string;
  /** The original record (read-only; for targets that use other fields, e.g. a harmful completion). */
  fields?: Readonly<JsonObject>;
}

export type JsonObject = { [k: string]: unknown };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function samplesEqual(a: Sample, b: Sample): boolean {
  if (a.instruction !== b.instruction || a.input !== b.input || a.output !== b.output || a.image !== b.image) return false;
  const ca = a.captions ?? [];
  const cb = b.captions ?? [];
  return ca.length === cb.length && ca.every((x, i) => x === cb[i]);
}
