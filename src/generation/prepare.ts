// Rendering every record once, before anything is generated: the prompt, and
// the record's key — the sha256 of the rendered prompt and the image bytes,
// plus its occurrence number among records with the same prompt. A re-run
// matches finished records by key, so it never depends on ids or on the
// order of the input, and a changed prompt is generated anew.
import { sha256Hasher } from '../util/hash.js';
import { sha256File } from '../util/hash.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { UserError } from '../util/errors.js';
import type { GenerationRecord } from './input.js';
import { chatApiPrompt, renderWithTemplate, type RenderedPrompt, type RenderOptions, type TemplateName } from './templates.js';

export interface PreparedPrompt {
  record: GenerationRecord;
  prompt: RenderedPrompt;
  /** sha256 of the rendered prompt (the conversation, for a chat API) and the image bytes. */
  promptSha256: string;
  /** promptSha256 + '#' + occurrence: unique within the input. */
  key: string;
  /** The record as the template sees it (the question framed by its image placeholder). */
  sample: { instruction: string; input: string };
}

export interface PrepareOptions extends RenderOptions {
  template: TemplateName;
  /** Hash the conversation rather than the text (an endpoint's chat API renders the template itself). */
  chatApi?: boolean;
}

function imageSha(path: string, rec: GenerationRecord): string {
  try {
    return sha256File(path);
  } catch (e) {
    throw new UserError(`record ${rec.index}: image ${path}: cannot read (${(e as Error).message})`);
  }
}

/** Renders every record and gives each its key. */
export function preparePrompts(tok: TextTokenizer | null, records: readonly GenerationRecord[], o: PrepareOptions): PreparedPrompt[] {
  const seen = new Map<string, number>();
  return records.map((record) => {
    const frame = record.imageFrame ?? (record.imagePath !== undefined ? { prefix: '<image>\n', suffix: '' } : undefined);
    const sample = { instruction: frame ? frame.prefix + record.instruction + frame.suffix : record.instruction, input: record.input };
    const prompt = o.chatApi ? chatApiPrompt(o.template, sample, o) : renderWithTemplate(o.template, tok, sample, o);
    const h = sha256Hasher();
    h.update(o.chatApi ? JSON.stringify(prompt.messages) : prompt.text);
    if (record.imagePath !== undefined) h.update('\u0000image\u0000' + imageSha(record.imagePath, record));
    const promptSha256 = h.digest('hex');
    const n = seen.get(promptSha256) ?? 0;
    seen.set(promptSha256, n + 1);
    return { record, prompt, promptSha256, key: `${promptSha256}#${n}`, sample };
  });
}
