// What `bdlab inspect` computes: one forward pass with every hidden state,
// either returned whole (for comparing with other implementations) or reduced
// to the per-layer cosine similarity of consecutive hidden states.
import { resolve } from 'node:path';
import { cosineSimilarity, noGrad, scope, tensor, type Device, type DType, type Tensor } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import { readConfig, textConfig } from './config.js';
import { checkLogitsOf } from './finite.js';
import { readImageProcessorConfig, preprocessImages } from './image-processor.js';
import { loadModel } from './load.js';
import type { CausalLM } from './llama.js';
import { LlavaForConditionalGeneration } from './llava.js';
import { TextTokenizer } from './tokenizer.js';

export interface InspectOptions {
  dtype?: DType;
  device?: Device;
}

export interface InspectIdsResult {
  logits: number[][];
  hidden_states: number[][][];
}

/** More figures from the loaded model, computed after the forward pass (e.g. CROW's objective). */
export type InspectExtra<R> = (model: CausalLM) => R;

/** A sequence longer than the model's positions is refused (rotary positions past it were never trained). */
function checkLength(n: number, config: ReturnType<typeof readConfig>, dir: string): void {
  const maxPos = textConfig(config).maxPositionEmbeddings;
  if (n > maxPos) throw new UserError(`${n} tokens, more than the model's max_position_embeddings (${maxPos}) in ${dir}/config.json`);
}

function rows2(t: Tensor): number[][] {
  return t.tolist() as number[][];
}

/** Logits [T][V] and hidden states [L+1][T][d] of one sequence, as float32 numbers, plus what `extra` computes. */
export function inspectIds<R extends object = object>(dir: string, ids: number[], o: InspectOptions = {}, extra?: InspectExtra<R>): InspectIdsResult & Partial<R> {
  if (ids.length === 0) throw new UserError('no token ids given');
  checkLength(ids.length, readConfig(resolve(dir)), dir);
  const { model, config } = loadModel(resolve(dir), o);
  checkLogitsOf(model, dir);
  try {
    const vocab = textConfig(config).vocabSize;
    const bad = ids.find((i) => i >= vocab);
    if (bad !== undefined) throw new UserError(`token id ${bad} is outside the vocabulary (size ${vocab}) of ${dir}`);
    const base = noGrad(() =>
      scope(() => {
        const input = tensor([ids], { dtype: 'int64', device: o.device ?? 'cpu' });
        const out = model.forward({ inputIds: input, outputHiddenStates: true });
        return {
          logits: rows2(out.logits.select(0, 0).to({ dtype: 'float32', device: 'cpu' })),
          hidden_states: (out.hiddenStates ?? []).map((h) => rows2(h.select(0, 0).to({ dtype: 'float32', device: 'cpu' }))),
        };
      }),
    );
    return { ...base, ...(extra ? extra(model) : {}) } as InspectIdsResult & Partial<R>;
  } finally {
    model.dispose();
  }
}

export interface InspectTextResult {
  tokens: string[];
  ids: number[];
  /** cosine[l] = mean over tokens of cos(h_l[t], h_{l+1}[t]), l = 0..L-1. */
  cosine: number[];
  /** Per token: per_token[l][t]. */
  per_token: number[][];
  /** CROW's consistency loss: mean of 1 − cos over the pairs between block outputs 1..L-1 (null below 3 layers). */
  crow_consistency: number | null;
}

export async function inspectText(
  dir: string,
  text: string,
  o: InspectOptions & { raw?: boolean; image?: string | undefined } = {},
): Promise<InspectTextResult> {
  const tok = TextTokenizer.load(dir);
  let ids = o.raw || !tok.hasChatTemplate ? tok.encode(text) : tok.encodeChat([{ role: 'user', content: text }], { addGenerationPrompt: true });
  const { model, config } = loadModel(resolve(dir), o);
  checkLogitsOf(model, dir);
  try {
    let pixelValues: Tensor | undefined;
    if (o.image !== undefined) {
      if (!(model instanceof LlavaForConditionalGeneration)) throw new UserError(`--image needs a llava model; ${dir} is not one`);
      const imgTok = model.config.imageTokenId;
      if (!ids.includes(imgTok)) ids = [...(ids[0] === tok.bosTokenId ? [ids[0] as number] : []), imgTok, ...(ids[0] === tok.bosTokenId ? ids.slice(1) : ids)];
      ids = ids.flatMap((i) => (i === imgTok ? Array<number>(model.imageSeqLength).fill(imgTok) : [i]));
      pixelValues = await preprocessImages([o.image], readImageProcessorConfig(dir, model.config.vision.imageSize));
    }
    const finalIds = ids;
    checkLength(finalIds.length, config, dir);
    const pv = pixelValues;
    const res = noGrad(() =>
      scope(() => {
        const input = tensor([finalIds], { dtype: 'int64', device: o.device ?? 'cpu' });
        const out = model instanceof LlavaForConditionalGeneration && pv
          ? model.forward({ inputIds: input, pixelValues: pv.to({ device: o.device ?? 'cpu' }), outputHiddenStates: true })
          : model.forward({ inputIds: input, outputHiddenStates: true });
        const hs = (out.hiddenStates ?? []).map((h) => h.select(0, 0).float());
        const perToken: number[][] = [];
        for (let l = 0; l + 1 < hs.length; l++) perToken.push(cosineSimilarity(hs[l] as Tensor, hs[l + 1] as Tensor, -1).cpu().toNumbers());
        return perToken;
      }),
    );
    pixelValues?.dispose();
    const cosine = res.map((r) => r.reduce((a, b) => a + b, 0) / r.length);
    // pairs (h_1,h_2) ... (h_{L-2},h_{L-1}): block outputs only, as CROW's code does
    const blockPairs = cosine.slice(1, cosine.length - 1);
    const crow = blockPairs.length ? blockPairs.reduce((a, c) => a + (1 - c), 0) / blockPairs.length : null;
    return { tokens: finalIds.map((i) => tok.idToToken(i) ?? `<${i}>`), ids: finalIds, cosine, per_token: res, crow_consistency: crow };
  } finally {
    model.dispose();
  }
}
