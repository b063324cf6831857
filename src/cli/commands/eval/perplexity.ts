import type { Command } from 'commander';
import { resolve } from 'node:path';
import { UserError } from '../../../util/errors.js';
import { emit } from '../../output.js';
// engine-free at import: the engine and the model loader load only when a model is scored
import { OVERFLOW_POLICIES, type OverflowPolicy } from '../../../eval/perplexity/windows.js';
import { checkResultPath, makeResult, writeResult } from '../../../eval/results.js';
import { renderTable } from '../../../eval/table.js';
import { MAX_BOOTSTRAP } from '../../../util/limits.js';
import { labelsOf, numberFlag, withCommonOptions, type MetaOptions } from './common.js';

interface PerplexityOptions extends MetaOptions {
  model: string;
  data: string;
  field?: string;
  prompt: boolean;
  adapter?: string;
  batchSize: string;
  maxLength?: string;
  stride?: string;
  overflow: string;
  dtype: string;
  device?: string;
  bootstrap: string;
  samples?: boolean;
  seed?: string;
}

const DTYPES = ['float32', 'bfloat16', 'float16'];

export function registerPerplexity(evalCmd: Command): void {
  withCommonOptions(evalCmd
    .command('perplexity')
    .description('perplexity of a model folder over a text set: plain texts, or the answers of instruction records given their prompts')
    .requiredOption('--model <dir>', 'Hugging Face model folder (config.json, safetensors, tokenizer.json)')
    .requiredOption('--data <file>', 'texts: .txt (one per line), or JSON / JSONL records')
    .option('--field <name>', 'record field to score; "output" (default) is scored after the prompt rendered from "instruction" and "input" as in training, any other field as plain text')
    .option('--no-prompt', 'score --field output as plain text, without the prompt')
    .option('--adapter <dir>', 'a PEFT LoRA adapter folder to apply')
    .option('--batch-size <n>', 'windows per forward pass', '8')
    .option('--max-length <n>', 'longest window in tokens (default: max_position_embeddings, at most 2048)')
    .option('--stride <n>', 'longer texts: new tokens scored per sliding window (default: max length / 2)')
    .option('--overflow <policy>', `longer texts: ${OVERFLOW_POLICIES.join('|')} (strided sliding windows, or keep the first max-length tokens)`, 'window')
    .option('--dtype <dtype>', DTYPES.join(', '), 'float32')
    .option('--device <device>', 'cpu or cuda (default: cpu)')
    .option('--bootstrap <n>', `bootstrap resamples over texts for the 95 % interval (0: none; at most ${MAX_BOOTSTRAP})`, '1000')
    .option('--samples', 'include every text\'s perplexity in the --out record')
    .option('--seed <n>', 'seed of this run (recorded, used by `eval aggregate`) and of the bootstrap (default 0)'), ['attack', 'domain', 'template'])
    .addHelpText(
      'after',
      '\nPerplexity = exp(total NLL / total scored tokens) over all texts; empty texts are skipped.\n' +
        'Example: bdlab eval perplexity --model ./victim --data clean_test.json --out ppl.json',
    )
    .action(async (o: PerplexityOptions) => {
      // the model stack (engine, models) loads only when this command runs: every other command starts without it
      const { perplexityOfFolder, readPerplexityData } = await import('../../../eval/perplexity/index.js');
      const batchSize = numberFlag('--batch-size', o.batchSize, { min: 1, integer: true })!;
      const maxLength = numberFlag('--max-length', o.maxLength, { min: 2, integer: true });
      const stride = numberFlag('--stride', o.stride, { min: 1, integer: true });
      const bootstrap = numberFlag('--bootstrap', o.bootstrap, { min: 0, max: MAX_BOOTSTRAP, integer: true })!;
      if (!(OVERFLOW_POLICIES as readonly string[]).includes(o.overflow)) throw new UserError(`--overflow must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${JSON.stringify(o.overflow)}`);
      if (!DTYPES.includes(o.dtype)) throw new UserError(`--dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(o.dtype)}`);
      const device = o.device ?? 'cpu';
      if (device !== 'cpu' && device !== 'cuda' && !/^cuda:\d+$/.test(device)) throw new UserError(`--device must be cpu or cuda, got ${JSON.stringify(device)}`);
      const seed = numberFlag('--seed', o.seed, { min: 0, integer: true }) ?? null;
      const labels = labelsOf(o);
      for (const k of ['model', 'seed'] as const) if (labels[k] !== undefined) throw new UserError(`--label ${k}=...: ${k} is recorded from --${k} here`);
      const data = readPerplexityData(o.data, { field: o.field, conditioned: o.prompt });
      if (o.out) checkResultPath(o.out, [{ role: 'texts', path: o.data }]);
      if (data.records === 0) throw new UserError(`${o.data}: no texts to score`);
      let r;
      try {
        r = await perplexityOfFolder(resolve(o.model), data.items, {
          batchSize,
          maxLength,
          stride,
          overflow: o.overflow as OverflowPolicy,
          bootstrap,
          seed: seed ?? 0,
          dtype: o.dtype as 'float32',
          device: device as 'cpu',
          adapter: o.adapter ? resolve(o.adapter) : undefined,
        });
      } catch (e) {
        if (e instanceof RangeError) throw new UserError(`${o.model}: ${e.message.replace(/^max length/, '--max-length').replace(/^stride/, '--stride')}`);
        throw e;
      }
      const counts: Record<string, number> = { n: r.texts, tokens: r.tokens, skipped: r.skipped, truncated: r.truncated, windows: r.windows };
      if (r.config.overflow === 'truncate') Object.assign(counts, { skipped_too_long: r.skippedTooLong, dropped_tokens: r.droppedTokens });
      if (o.out) {
        writeResult(
          o.out,
          makeResult('perplexity', {
            subject: { ...labels, model: o.model, task: 'perplexity' },
            seed,
            prompts: { template: r.template },
            config: {
              scored: data.format === 'lines' ? 'each line as plain text' : data.conditioned ? 'field "output" after the rendered prompt, with EOS (as training)' : `field "${data.field}" as plain text`,
              field: data.field,
              conditioned: data.conditioned,
              adapter: o.adapter ?? null,
              dtype: o.dtype,
              device,
              max_length: r.config.maxLength,
              overflow: r.config.overflow,
              stride: r.config.overflow === 'window' ? r.config.stride : null,
              batch_size: r.config.batchSize,
              interval: r.ci95 ? { method: 'percentile bootstrap over texts', resamples: r.config.bootstrap, seed: r.config.seed } : null,
            },
            inputs: [{ role: 'texts', path: o.data, sha256: data.sha256, records: data.records }],
            counts,
            metrics: { perplexity: r.perplexity, nll: r.nll },
            intervals: r.ci95 ? { perplexity: r.ci95.perplexity, nll: r.ci95.nll } : {},
            ...(o.samples ? { samples: r.perText } : {}),
          }),
        );
      }
      emit(Boolean(o.json), { perplexity: r.perplexity, nll: r.nll, tokens: r.tokens, n: r.texts, skipped: r.skipped, truncated: r.truncated, ci95: r.ci95?.perplexity ?? null }, () =>
        renderTable(
          ['perplexity', 'lo', 'hi', 'nll/token', 'tokens', 'texts', 'skipped', 'truncated'],
          [[r.perplexity, r.ci95?.perplexity[0], r.ci95?.perplexity[1], r.nll, r.tokens, r.texts, r.skipped, r.truncated]],
          { digits: 3 },
        ),
      );
    });
}
