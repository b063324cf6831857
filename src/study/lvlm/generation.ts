// Greedy captions of a LLaVA model for LLaVA records: the same prompt as in
// training (imagePrompt), images preprocessed in chunks, left-padded batches
// with a KV cache (src/models/generate.ts), outputs trimmed.
import * as T from '../../engine/index.js';
import { generate } from '../../models/generate.js';
import type { ImageProcessorConfig } from '../../models/image-processor.js';
import type { LlavaForConditionalGeneration } from '../../models/llava.js';
import type { TextTokenizer } from '../../models/tokenizer.js';
import type { Progress } from '../../util/progress.js';
import { imagePrompt, pixelValuesOf, type LlavaRecord } from './examples.js';

export interface CaptionOptions {
  maxNewTokens: number;
  batchSize: number;
  progress?: Progress;
}

export async function captionRecords(
  model: LlavaForConditionalGeneration,
  tok: TextTokenizer,
  cfg: ImageProcessorConfig,
  records: readonly LlavaRecord[],
  o: CaptionOptions,
): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < records.length; i += o.batchSize) {
    const chunk = records.slice(i, i + o.batchSize);
    const pixels = await pixelValuesOf(chunk.map((r) => r.image), cfg);
    try {
      const prompts = chunk.map((r) => imagePrompt(tok, r.instruction, model.config.imageTokenId, model.imageSeqLength));
      const r = T.noGrad(() => generate(model, prompts, { pixelValues: pixels, maxNewTokens: o.maxNewTokens, tokenizer: tok }));
      out.push(...r.texts.map((t) => t.trim()));
    } finally {
      pixels.dispose();
    }
    o.progress?.tick(chunk.length);
  }
  return out;
}
