// What perplexity scores in each text: plain texts (every token after the
// first) or instruction records (the answer tokens after the prompt, encoded
// exactly as training encodes them).
import { AUTO_TEMPLATE, encodeAnswer, encodePrompt } from '../../models/prompt.js';
import type { TextTokenizer } from '../../models/tokenizer.js';

/** An instruction record: its `output` is scored, conditioned on the prompt from `instruction` and `input`. */
export interface PerplexityRecord {
  instruction: string;
  input?: string;
  output: string;
}

/** A text to score: plain text (every token after the first), or an instruction record (the answer tokens). */
export type PerplexityItem = string | PerplexityRecord;

/** Token ids of one text and where its scored tokens start: ids[first..] are predicted and scored (first ≥ 1). */
export interface ScoredSequence {
  ids: number[];
  first: number;
}

/** True when there is nothing to score: the text (or the record's output) is empty or whitespace only. */
export function isEmptyItem(item: PerplexityItem): boolean {
  return (typeof item === 'string' ? item : item.output).trim() === '';
}

/**
 * Token ids of an item, or null when it has nothing to score.
 *
 * - Plain text: the tokenizer's encoding with its special tokens (BOS for
 *   Llama-style tokenizers); every token after the first is scored, so with a
 *   BOS every text token counts. No EOS is added.
 * - Instruction record: exactly what training sees (encodeExample in
 *   src/train/sft.ts): the prompt and the answer as the template encodes them
 *   (src/models/prompt.ts encodePrompt / encodeAnswer, answer then EOS); the
 *   answer tokens and the EOS are scored, the prompt never.
 */
export function encodeItem(tok: TextTokenizer, item: PerplexityItem, template: string = AUTO_TEMPLATE): ScoredSequence | null {
  if (isEmptyItem(item)) return null;
  if (typeof item === 'string') {
    const ids = tok.encode(item);
    return ids.length >= 2 ? { ids, first: 1 } : null;
  }
  const prompt = encodePrompt(tok, item, template);
  const answer = encodeAnswer(tok, item.output, template);
  if (answer.length === 0) return null;
  // a template that renders to nothing leaves the first answer token without context
  return { ids: [...prompt, ...answer], first: Math.max(1, prompt.length) };
}
