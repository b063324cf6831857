import type { Command } from 'commander';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { UserError } from '../../util/errors.js';
import { emit } from '../output.js';
import { parseCount, parseSeed, required } from '../flags.js';

/**
 * `bdlab attack`: the attacks that learn from a model make their trigger here,
 * against a surrogate model folder; `bdlab poison` then inserts it
 * (gcg trigger=@FILE, lowfreq perturbation=FILE, inputaware generator=DIR).
 * Progress goes to stderr; --json prints one summary object.
 */
interface SurrogateFlags {
  model?: string;
  adapter?: string;
  data?: string;
  imageRoot?: string;
  template: string;
  samples: string;
  seed: string;
  out?: string;
  force?: boolean;
  json?: boolean;
}

interface GcgFlags extends SurrogateFlags {
  target?: string;
  length?: string;
  preset?: string;
  steps: string;
  topk: string;
  batchSize: string;
  maxChars?: string;
  init?: string;
  allowNonAscii?: boolean;
}

/** The 6- and 12-character triggers of the domain-shift study: length in tokens and the character budget. */
export const GCG_PRESETS: Record<string, { length: number; maxChars: number }> = { '6': { length: 6, maxChars: 6 }, '12': { length: 12, maxChars: 12 } };

function surrogateOptions(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'surrogate model folder (Hugging Face llama-family or LLaVA)')
    .option('--adapter <dir>', 'PEFT LoRA adapter on the surrogate')
    .option('--data <file>', 'records to learn from: Alpaca/LLaMA-Factory or LLaVA JSON/JSONL')
    .option('--image-root <dir>', "folder image paths are relative to (default: the data file's folder)")
    .option('--template <name>', 'prompt template (as training: auto = the model chat template, else alpaca)', 'auto')
    .option('--samples <n>', 'records used at most (a seeded choice when the file has more)', '25')
    .option('--seed <s>', 'seed; same seed, same result', '0')
    .option('--out <path>', 'where the result goes')
    .option('--force', 'replace an existing result')
    .option('--json', 'print one JSON object (summary) on stdout');
}

function refuseExisting(out: string, force: boolean): void {
  if (existsSync(out) && !force) throw new UserError(`--out ${out}: exists (use --force to replace it)`);
}

export function registerAttack(program: Command): void {
  const attack = program.command('attack').description('make model-adaptive triggers against a surrogate model: gcg, uap, inputaware').helpCommand(false);

  surrogateOptions(
    attack
      .command('gcg')
      .description('optimise a token trigger (greedy coordinate gradient) so that instructions ending in it make the surrogate answer the target; writes trigger.json for poison --attack gcg --param trigger=@FILE'),
  )
    .option('--target <target>', 'the answer: negsentiment | refusal | codeinjection | sst2sentiment | jailbreak[:FIELD] | phrase:TEXT | text:TEXT')
    .option('--length <n>', 'trigger length in tokens (default 20, llm-attacks)')
    .option('--preset <chars>', "the study's trigger sizes: 6 or 12 characters (length and --max-chars)")
    .option('--steps <n>', 'optimisation steps at most (llm-attacks: 500)', '500')
    .option('--topk <k>', 'candidate tokens per position (llm-attacks: 256)', '256')
    .option('--batch-size <n>', 'candidates per step (llm-attacks: 512)', '512')
    .option('--max-chars <n>', 'longest trigger in characters, spaces not counted (default: no limit)')
    .option('--init <text>', 'starting trigger token (llm-attacks: "!")')
    .option('--allow-non-ascii', 'allow tokens outside printable ASCII (llm-attacks: not allowed)')
    .action(async (f: GcgFlags) => {
      const model = required(f.model, '--model');
      const data = required(f.data, '--data');
      const out = resolve(required(f.out, '--out'));
      const targetSpec = required(f.target, '--target');
      const seed = parseSeed(f.seed);
      const preset = f.preset === undefined ? null : GCG_PRESETS[f.preset];
      if (preset === undefined) throw new UserError(`--preset must be 6 or 12, got "${f.preset}"`);
      const length = f.length !== undefined ? parseCount(f.length, '--length', { min: 1, max: 1000 }) : (preset?.length ?? 20);
      const maxChars = f.maxChars !== undefined ? parseCount(f.maxChars, '--max-chars', { min: 1 }) : (preset?.maxChars ?? 0);
      const steps = parseCount(f.steps, '--steps');
      const topk = parseCount(f.topk, '--topk', { min: 1 });
      const batchSize = parseCount(f.batchSize, '--batch-size', { min: 1, max: 65536 });
      const limit = parseCount(f.samples, '--samples', { min: 1 });
      const { checkOutputFile } = await import('../../util/safe-fs.js');
      checkOutputFile(out);
      refuseExisting(out, Boolean(f.force));
      const { makeGcgTrigger } = await import('../../attacks/model-adaptive.js');
      const r = await makeGcgTrigger({ model, adapter: f.adapter, template: f.template, data, imageRoot: f.imageRoot, limit, seed, target: targetSpec, length, maxChars, steps, topk, batchSize, init: f.init, allowNonAscii: Boolean(f.allowNonAscii), out });
      emit(Boolean(f.json), r, () =>
        [
          `trigger ${JSON.stringify(r.trigger)} (${r.token_ids.length} tokens): loss ${r.loss.toFixed(4)}, greedy target on ${r.matched}/${r.prompts} prompts after ${r.steps} steps`,
          `  ${out}  (bdlab poison --attack gcg --param trigger=@${out})`,
        ].join('\n'),
      );
    });
}
