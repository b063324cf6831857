import { join } from 'node:path';
import { generateRecords, recordsFromSamples } from '../../generation/index.js';
import { Progress } from '../../util/progress.js';
import { writeAlpaca, readSamples } from './records.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `generate`: greedy answers of a model (input `base`, plus `tuned` over it) to
 * every record of a data file (input `data`), through batch generation
 * (src/generation, as `bdlab generate`) with the prompt template training
 * used; writes outputs.json as `[{instruction, input, output}]`, which
 * `bdlab eval asr` reads.
 */
export interface GenerateParams {
  modality: 'text' | 'vision';
  max_new_tokens: number;
  batch_size: number;
  /** Prompt template (src/models/prompt.ts), as the victim was trained. */
  template: string;
}

export type GenerateOutput = {
  outputs: string;
  records: number;
  /** The template every prompt was rendered with. */
  template: string;
};

export const generateStage = registerStage<GenerateParams, GenerateOutput>({
  kind: 'generate',
  version: 2,
  describe: (p) => `generate answers (greedy, ${p.max_new_tokens} new tokens)`,
  unavailable: (p) => (p.modality === 'vision' ? 'the pipeline generates captions through the LVLM study (bdlab demo\'s lvlm part)' : null),
  async run(ctx) {
    const { model, tokenizer } = ctx.models.get(ctx.inputs.base as Input, ctx.inputs.tuned);
    const samples = readSamples((ctx.inputs.data as Input).path);
    const progress = new Progress({ label: 'generate', total: samples.length, unit: 'sample' });
    let out: Awaited<ReturnType<typeof generateRecords>> = [];
    try {
      out = await generateRecords(model, tokenizer, recordsFromSamples(samples), {
        template: ctx.params.template,
        maxNewTokens: ctx.params.max_new_tokens,
        batchSize: ctx.params.batch_size,
        onBatch: (d) => progress.tick(d.length),
      });
    } finally {
      progress.finish();
    }
    writeAlpaca(
      join(ctx.dir, 'outputs.json'),
      samples.map((s, i) => ({ instruction: s.instruction, input: s.input, output: (out[i]?.output ?? '').trim() })),
    );
    return { outputs: 'outputs.json', records: samples.length, template: out[0]?.template ?? ctx.params.template };
  },
});
