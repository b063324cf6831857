// Instruction tuning of a LLaVA model on image + question → answer examples:
// the answer tokens (and EOS) carry the loss, the prompt and the image tokens
// are masked. AdamW with warm-up and a cosine or constant schedule, gradient
// clipping, seeded shuffling; each step inside scope() so memory stays flat.
// Only the parameters left trainable by the freeze policy (e.g. the projector)
// change. The same semantics as src/train/trainer.ts, with pixel values.
import * as T from '../../engine/index.js';
import type { LlavaForConditionalGeneration } from '../../models/llava.js';
import type { TextTokenizer } from '../../models/tokenizer.js';
import { causalLmLoss, collate, IGNORE_INDEX, type EncodedExample } from '../../train/sft.js';
import { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { imagePrompt } from './examples.js';

export interface ImageExample extends EncodedExample {
  /** Row of the example's image in the pixel-value tensor. */
  image: number;
}

export interface LlavaTrainOptions {
  epochs: number;
  lr: number;
  batchSize: number;
  schedule: 'cosine' | 'constant';
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  label?: string;
}

export interface LlavaTrainResult {
  steps: number;
  first_loss: number;
  last_loss: number;
  /** Mean loss of each epoch. */
  epoch_losses: number[];
  seconds: number;
}

/** One example: expanded prompt (masked) + answer + EOS. */
export function encodeImageExample(tok: TextTokenizer, model: LlavaForConditionalGeneration, instruction: string, output: string, image: number): ImageExample {
  const prompt = imagePrompt(tok, instruction, model.config.imageTokenId, model.imageSeqLength);
  const eos = tok.eosTokenId;
  const answer = [...tok.encode(output, { addSpecialTokens: false }), ...(eos === null ? [] : [eos])];
  return { ids: [...prompt, ...answer], labels: [...prompt.map(() => IGNORE_INDEX), ...answer], image };
}

export function trainLlava(model: LlavaForConditionalGeneration, tok: TextTokenizer, examples: readonly ImageExample[], pixels: T.Tensor, o: LlavaTrainOptions): LlavaTrainResult {
  if (examples.length === 0) throw new Error('train: no examples');
  const params = model.trainableParameters();
  if (params.length === 0) throw new Error('train: the model has no trainable parameters (check the freeze policy)');
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  const perEpoch = Math.ceil(examples.length / o.batchSize);
  const total = perEpoch * o.epochs;
  const schedule: T.optim.Schedule = { kind: o.schedule, warmupSteps: T.optim.warmupFromRatio(total, o.warmupRatio), totalSteps: total };
  const opt = new T.optim.AdamW(params, { lr: o.lr, weightDecay: o.weightDecay });
  const progress = new Progress({ label: o.label ?? 'train', total, unit: 'step' });
  const start = Date.now();
  const epochLosses: number[] = [];
  let first = NaN;
  let last = NaN;
  let step = 0;
  model.train(true);
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = new Rng(o.seed, 'train-order', epoch).permutation(examples.length);
      let sum = 0;
      for (let b = 0; b < perEpoch; b++) {
        opt.setLr(o.lr * T.optim.lrMultiplier(schedule, step));
        const idx = Array.from(order.subarray(b * o.batchSize, Math.min((b + 1) * o.batchSize, examples.length)));
        const loss = T.scope(() => {
          const batch = collate(idx.map((i) => examples[i] as ImageExample), pad);
          const rows = T.tensor(BigInt64Array.from(idx, (i) => BigInt((examples[i] as ImageExample).image)), { shape: [idx.length] });
          const out = model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, pixelValues: pixels.indexSelect(0, rows) });
          const l = causalLmLoss(out.logits, batch.labels);
          l.backward();
          return l.item();
        });
        if (o.maxGradNorm > 0) T.optim.clipGradNorm(params, o.maxGradNorm);
        opt.step();
        opt.zeroGrad();
        if (step === 0) first = loss;
        last = loss;
        sum += loss;
        step++;
        progress.tick(1, `loss ${loss.toFixed(4)}`);
      }
      epochLosses.push(sum / perEpoch);
    }
  } finally {
    model.train(false);
    opt.dispose();
  }
  progress.finish();
  return { steps: step, first_loss: first, last_loss: last, epoch_losses: epochLosses, seconds: (Date.now() - start) / 1000 };
}
