import { join } from 'node:path';
import { generate } from '../../models/generate.js';
import { encodePrompt, renderPrompt } from '../../models/prompt.js';
import { Progress } from '../../util/progress.js';
import { writeAlpaca } from './records.js';
import { readSamples } from './records.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `generate`: greedy answers of a model (input `base`, plus `tuned` over it) to
 * every record of a data file (input `data`), prompts rendered by the one
 * renderer training uses; writes outputs.json as `[{instruction, input,
 * output}]`, which `bdlab eval asr` reads.
 */
export interface GenerateParams {
  modality: 'text' | 'vision';
  max_new_tokens: number;
  batch_size: number;
}

export type GenerateOutput = {
  outputs: string;
  records: number;
  /** The prompt every input was rendered with ({instruction} stands for the user turn). */
  template: string;
};

export const generateStage = registerStage<GenerateParams, GenerateOutput>({
  kind: 'generate',
  version: 1,
  describe: (p) => `generate answers (greedy, ${p.max_new_tokens} new tokens)`,
  unavailable: (p) => (p.modality === 'vision' ? 'generating captions over LLaVA data needs `bdlab generate --input` with images' : null),
  async run(ctx) {
    const { model, tokenizer } = ctx.models.get(ctx.inputs.base as Input, ctx.inputs.tuned);
    const samples = readSamples((ctx.inputs.data as Input).path);
    const outputs: string[] = [];
    const progress = new Progress({ label: 'generate', total: samples.length, unit: 'sample' });
    try {
      for (let i = 0; i < samples.length; i += ctx.params.batch_size) {
        const chunk = samples.slice(i, i + ctx.params.batch_size);
        const r = generate(
          model,
          chunk.map((s) => encodePrompt(tokenizer, s)),
          { maxNewTokens: ctx.params.max_new_tokens, tokenizer },
        );
        outputs.push(...r.texts.map((t) => t.trim()));
        progress.tick(chunk.length);
      }
    } finally {
      progress.finish();
    }
    writeAlpaca(
      join(ctx.dir, 'outputs.json'),
      samples.map((s, i) => ({ instruction: s.instruction, input: s.input, output: outputs[i] as string })),
    );
    return { outputs: 'outputs.json', records: samples.length, template: renderPrompt(tokenizer, { instruction: '{instruction}' }) };
  },
});
