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
const GCG_PRESETS: Record<string, { length: number; maxChars: number }> = { '6': { length: 6, maxChars: 6 }, '12': { length: 12, maxChars: 12 } };

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

interface UapFlags extends SurrogateFlags {
  target?: string;
  maxPasses: string;
  maxIterDf: string;
  delta: string;
  overshoot: string;
  sigma: string;
  scale: string;
}

interface InputAwareFlags extends SurrogateFlags {
  target?: string;
  epochs: string;
  maskEpochs: string;
  batchSize: string;
  pratio: string;
  channels: string;
  depth: string;
  lrG: string;
  lrM: string;
  lrC: string;
  lambdaDiv: string;
  lambdaNorm: string;
  maskDensity: string;
  fixedSurrogate?: boolean;
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

  surrogateOptions(
    attack
      .command('uap')
      .description("BackdoorBench's low-frequency trigger: a universal adversarial perturbation (targeted DeepFool against a LLaVA surrogate, Gaussian low-pass, normalised to [0, 0.2]); writes a file for poison --attack lowfreq --param perturbation=FILE"),
  )
    .option('--target <target>', 'the poisoned answer: phrase:TEXT (e.g. phrase:banana), text:TEXT, ...')
    .option('--max-passes <n>', 'passes over the images at most (BackdoorBench max_iter_uni)', '50')
    .option('--max-iter-df <n>', 'DeepFool iterations per image at most (BackdoorBench max_iter_df)', '200')
    .option('--delta <d>', 'stop when the fooled share reaches 1 − delta (BackdoorBench)', '0.8')
    .option('--overshoot <o>', 'DeepFool overshoot (BackdoorBench)', '0.02')
    .option('--sigma <px>', 'Gaussian low-pass σ in pixels of the model input (BackdoorBench gauss_smooth)', '6')
    .option('--scale <s>', 'the perturbation is normalised to [0, scale] (BackdoorBench 0.2, i.e. up to +51 per channel)', '0.2')
    .action(async (f: UapFlags) => {
      const model = required(f.model, '--model');
      const data = required(f.data, '--data');
      const out = resolve(required(f.out, '--out'));
      const target = required(f.target, '--target');
      const seed = parseSeed(f.seed);
      const { parseNumber } = await import('../flags.js');
      const job = {
        model,
        adapter: f.adapter,
        template: f.template,
        data,
        imageRoot: f.imageRoot,
        limit: parseCount(f.samples, '--samples', { min: 1 }),
        seed,
        out,
        target,
        maxPasses: parseCount(f.maxPasses, '--max-passes', { min: 1 }),
        maxIterDf: parseCount(f.maxIterDf, '--max-iter-df', { min: 1 }),
        delta: parseNumber(f.delta, '--delta', { min: 0, max: 1 }),
        overshoot: parseNumber(f.overshoot, '--overshoot', { min: 0 }),
        sigma: parseNumber(f.sigma, '--sigma', { min: 0.2, max: 1000 }),
        scale: parseNumber(f.scale, '--scale', { min: 0, minExclusive: true, max: 1 }),
      };
      const { checkOutputFile } = await import('../../util/safe-fs.js');
      checkOutputFile(out);
      refuseExisting(out, Boolean(f.force));
      const { makeUap } = await import('../../attacks/model-adaptive.js');
      const r = await makeUap(job);
      const last = r.passes[r.passes.length - 1];
      emit(Boolean(f.json), r, () =>
        [
          `universal perturbation ${r.width}x${r.height} (adds up to ${r.max_addition} per channel): target preferred on ${Math.round((last?.fooling_rate ?? r.clean.fooling_rate) * 100)} % of images (clean ${Math.round(r.clean.fooling_rate * 100)} %) after ${r.passes.length} passes`,
          `  ${out}  (bdlab poison --attack lowfreq --param perturbation=${out})`,
        ].join('\n'),
      );
    });

  surrogateOptions(
    attack
      .command('inputaware')
      .description("InputAware: train a trigger generator and a mask generator against a LLaVA surrogate with BackdoorBench's objective (backdoor, cross-trigger and diversity terms); writes a folder for poison --attack inputaware --param generator=DIR"),
  )
    .option('--target <target>', 'the poisoned answer: phrase:TEXT (e.g. phrase:banana), text:TEXT, ...')
    .option('--epochs <n>', 'joint epochs of the generator with the surrogate', '100')
    .option('--mask-epochs <n>', 'epochs of the mask generator first (BackdoorBench clean_train_epochs)', '25')
    .option('--batch-size <n>', 'images per batch (BackdoorBench 128)', '128')
    .option('--pratio <r>', 'backdoor rows (and as many cross rows) per batch row (BackdoorBench 0.1)', '0.1')
    .option('--channels <n>', 'generator width (BackdoorBench 32)', '32')
    .option('--depth <n>', 'generator down/up steps (BackdoorBench 3)', '3')
    .option('--lr-g <lr>', 'trigger generator Adam learning rate (BackdoorBench 0.01)', '0.01')
    .option('--lr-m <lr>', 'mask generator Adam learning rate (BackdoorBench 0.01)', '0.01')
    .option('--lr-c <lr>', 'surrogate projector SGD learning rate (BackdoorBench 0.01)', '0.01')
    .option('--lambda-div <x>', 'diversity weight (BackdoorBench 1)', '1')
    .option('--lambda-norm <x>', 'mask density weight (BackdoorBench 100)', '100')
    .option('--mask-density <x>', 'mask density target (BackdoorBench 0.032)', '0.032')
    .option('--fixed-surrogate', "keep the surrogate's projector fixed (BackdoorBench trains its classifier with the generator)")
    .action(async (f: InputAwareFlags) => {
      const { parseNumber } = await import('../flags.js');
      const out = resolve(required(f.out, '--out'));
      const job = {
        model: required(f.model, '--model'),
        adapter: f.adapter,
        template: f.template,
        data: required(f.data, '--data'),
        imageRoot: f.imageRoot,
        limit: parseCount(f.samples, '--samples', { min: 2 }),
        seed: parseSeed(f.seed),
        out,
        target: required(f.target, '--target'),
        epochs: parseCount(f.epochs, '--epochs'),
        maskEpochs: parseCount(f.maskEpochs, '--mask-epochs'),
        batchSize: parseCount(f.batchSize, '--batch-size', { min: 1 }),
        pratio: parseNumber(f.pratio, '--pratio', { min: 0, max: 0.5 }),
        channels: parseCount(f.channels, '--channels', { min: 2, max: 1024 }),
        steps: parseCount(f.depth, '--depth', { min: 2, max: 8 }),
        lrG: parseNumber(f.lrG, '--lr-g', { min: 0 }),
        lrM: parseNumber(f.lrM, '--lr-m', { min: 0 }),
        lrC: parseNumber(f.lrC, '--lr-c', { min: 0 }),
        lambdaDiv: parseNumber(f.lambdaDiv, '--lambda-div', { min: 0 }),
        lambdaNorm: parseNumber(f.lambdaNorm, '--lambda-norm', { min: 0 }),
        maskDensity: parseNumber(f.maskDensity, '--mask-density', { min: 0, max: 1 }),
        trainSurrogate: !f.fixedSurrogate,
      };
      const { checkOutDir } = await import('../flags.js');
      const { checkOutputFolder } = await import('../../util/safe-fs.js');
      checkOutputFolder(out);
      checkOutDir(out, Boolean(f.force));
      const { trainInputAwareGenerator } = await import('../../attacks/model-adaptive.js');
      const r = await trainInputAwareGenerator(job);
      const last = r.history.filter((h) => h.stage === 'joint').pop();
      emit(Boolean(f.json), r, () =>
        [
          `InputAware generators trained (${r.image_size}×${r.image_size} input)` + (last?.eval ? `: target loss with trigger ${last.eval.backdoor.toFixed(3)} vs ${last.eval.target_clean.toFixed(3)} without, cross ${last.eval.cross.toFixed(3)}` : ''),
          `  ${out}  (bdlab poison --attack inputaware --param generator=${out})`,
        ].join('\n'),
      );
    });
}
