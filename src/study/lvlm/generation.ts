// Greedy captions of a LLaVA model for LLaVA records, through the project's
// batch generation (src/generation): the prompt rendered by the same template
// as training (`auto`), images through the model's processor, left-padded
// KV-cached batches; outputs trimmed, in record order.
import { generateRecords, type GenerationRecord } from '../../generation/index.js';
import type { ImageProcessorConfig } from '../../models/image-processor.js';
import type { LlavaForConditionalGeneration } from '../../models/llava.js';
import type { TextTokenizer } from '../../models/tokenizer.js';
import type { Progress } from '../../util/progress.js';
import type { LlavaRecord } from './examples.js';

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
  const inputs: GenerationRecord[] = records.map((r, index) => ({ index, instruction: r.instruction, input: '', image: r.image, imagePath: r.image }));
  const out = await generateRecords(model, tok, inputs, {
    maxNewTokens: o.maxNewTokens,
    batchSize: o.batchSize,
    imageProcessor: cfg,
    onBatch: (done) => o.progress?.tick(done.length),
  });
  return out.map((r) => r.output.trim());
}
