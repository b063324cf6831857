// Generation from a model folder as `bdlab generate` runs it: load the model
// (and an adapter), render each prompt with the chat template, expand LLaVA's
// image placeholder, generate, decode.
import type { Device, DType } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import { readGenerationEos } from './config.js';
import { checkLogitsOf } from './finite.js';
import { expandImageTokens, generate, type FinishReason } from './generate.js';
import { preprocessImages, readImageProcessorConfig } from './image-processor.js';
import { LlavaForConditionalGeneration } from './llava.js';
import { loadModel } from './load.js';
import { loadAdapter } from './peft.js';
import { TextTokenizer, type ChatMessage } from './tokenizer.js';

export interface FolderGenerateOptions {
  prompts: string[];
  images?: string[];
  adapter?: string | undefined;
  raw?: boolean;
  system?: string | undefined;
  maxNewTokens: number;
  doSample?: boolean;
  temperature?: number | undefined;
  topP?: number | undefined;
  topK?: number | undefined;
  seed?: number;
  stopStrings?: string[];
  dtype?: DType;
  device?: Device;
  onText?: ((t: string) => void) | undefined;
}

export interface FolderGenerateOutput {
  prompt: string;
  output: string;
  finish_reason: FinishReason;
  tokens: number;
}

export async function generateFromFolder(dir: string, o: FolderGenerateOptions): Promise<FolderGenerateOutput[]> {
  const tok = TextTokenizer.load(dir);
  const { model } = loadModel(dir, { dtype: o.dtype, device: o.device });
  checkLogitsOf(model, dir);
  try {
    if (o.adapter) loadAdapter(model, o.adapter);
    const images = o.images ?? [];
    const isLlava = model instanceof LlavaForConditionalGeneration;
    if (images.length && !isLlava) throw new UserError(`${dir} is not a LLaVA model; --image needs one`);
    if (isLlava && images.length && images.length !== o.prompts.length) throw new UserError(`give one --image per --prompt (${o.prompts.length} prompts, ${images.length} images)`);
    const encoded = o.prompts.map((p) => {
      let text = p;
      if (isLlava && images.length && !text.includes('<image>')) text = `<image>\n${text}`;
      if (o.raw || !tok.hasChatTemplate) return tok.encode(text);
      const msgs: ChatMessage[] = [...(o.system ? [{ role: 'system', content: o.system }] : []), { role: 'user', content: text }];
      return tok.encodeChat(msgs, { addGenerationPrompt: true });
    });
    let ids = encoded;
    let pixelValues;
    if (isLlava && images.length) {
      const m = model as LlavaForConditionalGeneration;
      ids = encoded.map((e) => expandImageTokens(e, m.config.imageTokenId, m.imageSeqLength));
      pixelValues = await preprocessImages(images, readImageProcessorConfig(dir, m.config.vision.imageSize));
      if (o.device && o.device !== 'cpu') {
        const moved = pixelValues.to({ device: o.device });
        pixelValues.dispose();
        pixelValues = moved;
      }
    }
    const maxPos = model.textConfig.maxPositionEmbeddings;
    ids.forEach((p, i) => {
      if (p.length + o.maxNewTokens > maxPos) {
        throw new UserError(`prompt ${i + 1} has ${p.length} tokens: with --max-new-tokens ${o.maxNewTokens} it would reach position ${p.length + o.maxNewTokens}, past the model's max_position_embeddings (${maxPos})`);
      }
    });
    const eos = tok.eosTokenId;
    // generation_config.json's ids end generation too, as in transformers' generate
    const stop = [...new Set([...(eos !== null ? [eos] : []), ...(readGenerationEos(dir, model.textConfig.vocabSize) ?? []), ...model.textConfig.eosTokenIds])];
    const r = generate(model, ids, {
      maxNewTokens: o.maxNewTokens,
      doSample: o.doSample,
      temperature: o.temperature,
      topP: o.topP,
      topK: o.topK,
      seed: o.seed,
      stopStrings: o.stopStrings,
      tokenizer: tok,
      eosTokenIds: stop.length ? stop : undefined,
      padTokenId: tok.padTokenId ?? undefined,
      pixelValues,
      onToken: o.onText ? (e) => o.onText?.(e.text) : undefined,
    });
    pixelValues?.dispose();
    return o.prompts.map((p, i) => ({ prompt: p, output: r.texts[i] as string, finish_reason: r.finishReasons[i] as FinishReason, tokens: (r.tokens[i] as number[]).length }));
  } finally {
    model.dispose();
  }
}
