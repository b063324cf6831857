// Supervised fine-tuning examples: prompt + answer (the template's answer
// slots, ending in EOS), with the prompt's labels masked (-100) so the loss
// covers only the answer, cut to the length limit by LLaMA-Factory's rule,
// and batches padded on the right with their attention mask.
import * as T from '../engine/index.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { encodeAnswer, encodePrompt, type EncodePromptOptions, type InstructionSample } from '../models/prompt.js';
import { UserError } from '../util/errors.js';

export const IGNORE_INDEX = -100;

export interface EncodedExample {
  ids: number[];
  labels: number[];
}

export interface EncodeExampleOptions extends EncodePromptOptions {
  /** A template name (src/models/prompt.ts); default `auto`. */
  template?: string;
  /** Label the prompt tokens too (LLaMA-Factory's train_on_prompt). */
  trainOnPrompt?: boolean;
}

/**
 * LLaMA-Factory's infer_seqlen: how many prompt and answer tokens survive a
 * cut to `cutoff` tokens. A short answer is kept whole and the prompt's end
 * cut; a short prompt is kept whole and the answer cut; otherwise both shrink
 * in proportion.
 */
export function inferSeqlen(promptLen: number, answerLen: number, cutoff: number): [number, number] {
  let maxAnswer: number;
  if (answerLen * 2 < cutoff) maxAnswer = cutoff;
  else if (promptLen * 2 < cutoff) maxAnswer = cutoff - promptLen;
  else maxAnswer = Math.floor(cutoff * (answerLen / (promptLen + answerLen)));
  const answer = Math.min(maxAnswer, answerLen);
  const prompt = Math.min(Math.max(cutoff - answer, 0), promptLen);
  return [prompt, answer];
}

/** Encodes one sample, cut to at most maxLength tokens (inferSeqlen). */
export function encodeExample(tok: TextTokenizer, s: InstructionSample, maxLength: number, o: EncodeExampleOptions = {}): EncodedExample {
  const prompt = encodePrompt(tok, s, o.template, o);
  const answer = encodeAnswer(tok, s.output ?? '', o.template);
  const [pl, al] = inferSeqlen(prompt.length, answer.length, maxLength);
  const p = prompt.slice(0, pl);
  if (o.image && s.image !== undefined && pl < prompt.length && p.filter((x) => x === o.image?.tokenId).length !== o.image.count) {
    throw new UserError(`cutoff_len ${maxLength} cuts into the ${o.image.count} image tokens of a ${prompt.length}-token prompt; raise cutoff_len`);
  }
  const a = answer.slice(0, al);
  return { ids: [...p, ...a], labels: [...(o.trainOnPrompt ? p : p.map(() => IGNORE_INDEX)), ...a] };
}

export interface Batch {
  inputIds: T.Tensor;
  attentionMask: T.Tensor;
  labels: T.Tensor;
  /** Answer tokens that count in the loss. */
  tokens: number;
  /** LLaVA: preprocessed images [N, 3, H, W] for the batch's image tokens, in row order. */
  pixelValues?: T.Tensor;
}

/** Right-pads examples into int64 tensors [B, T] (on `device`, default the CPU). */
export function collate(examples: readonly EncodedExample[], padId: number, device: T.Device = 'cpu'): Batch {
  const len = Math.max(...examples.map((e) => e.ids.length));
  const b = examples.length;
  const ids = new BigInt64Array(b * len).fill(BigInt(padId));
  const mask = new BigInt64Array(b * len);
  const labels = new BigInt64Array(b * len).fill(BigInt(IGNORE_INDEX));
  let tokens = 0;
  examples.forEach((e, i) => {
    e.ids.forEach((v, j) => {
      ids[i * len + j] = BigInt(v);
      mask[i * len + j] = 1n;
      const l = e.labels[j] as number;
      labels[i * len + j] = BigInt(l);
      // the first position is never predicted (the shift), so its label does not count
      if (l !== IGNORE_INDEX && j > 0) tokens++;
    });
  });
  return {
    inputIds: T.tensor(ids, { shape: [b, len], device }),
    attentionMask: T.tensor(mask, { shape: [b, len], device }),
    labels: T.tensor(labels, { shape: [b, len], device }),
    tokens,
  };
}

/**
 * Mean next-token cross entropy over answer tokens: logits at position t
 * predict the label at t + 1 (Hugging Face's shift).
 */
export function causalLmLoss(logits: T.Tensor, labels: T.Tensor): T.Tensor {
  const [b, t, v] = logits.shape as [number, number, number];
  const pred = logits.narrow(1, 0, t - 1).reshape([b * (t - 1), v]);
  const target = labels.narrow(1, 1, t - 1).reshape([b * (t - 1)]);
  return T.crossEntropy(pred.float(), target, { ignoreIndex: IGNORE_INDEX });
}
