import type { Command } from 'commander';
import { resolve } from 'node:path';
import { emit } from '../output.js';
import { UserError } from '../../util/errors.js';

interface NewOpts {
  arch: string;
  preset: string;
  out: string;
  seed: string;
  dtype: string;
  force?: boolean;
  json?: boolean;
}

interface MergeOpts {
  model: string;
  adapter: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

/** `bdlab model`: make, inspect and combine Hugging Face model folders. */
export function registerModel(program: Command): void {
  const model = program.command('model').description('create and manage Hugging Face model folders').helpCommand(false);

  model
    .command('new')
    .description('write a randomly initialised model folder (config, safetensors, tokenizer, chat template)')
    .requiredOption('--out <dir>', 'folder to write')
    .option('--arch <arch>', 'llama or llava', 'llama')
    .option('--preset <preset>', 'tiny (CI-sized) or small (~25M parameters)', 'tiny')
    .option('--seed <n>', 'initialisation seed', '0')
    .option('--dtype <dtype>', 'weight dtype: float32, bfloat16 or float16', 'float32')
    .option('--force', 'replace the model in a folder that already holds one')
    .option('--json', 'print one JSON object')
    .action(async (o: NewOpts) => {
      const { newModelFolder, ARCHS, PRESETS } = await import('../../models/presets.js');
      if (!(ARCHS as readonly string[]).includes(o.arch)) throw new UserError(`--arch must be one of ${ARCHS.join(', ')}, got '${o.arch}'`);
      if (!(PRESETS as readonly string[]).includes(o.preset)) throw new UserError(`--preset must be one of ${PRESETS.join(', ')}, got '${o.preset}'`);
      const seed = Number(o.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new UserError(`--seed must be a non-negative integer, got '${o.seed}'`);
      if (!['float32', 'bfloat16', 'float16'].includes(o.dtype)) throw new UserError(`--dtype must be float32, bfloat16 or float16, got '${o.dtype}'`);
      const { checkOutputFolder } = await import('../../util/safe-fs.js');
      const { prepareModelOutput } = await import('../../models/files.js');
      checkOutputFolder(resolve(o.out));
      prepareModelOutput(resolve(o.out), Boolean(o.force));
      const r = newModelFolder(resolve(o.out), {
        arch: o.arch as 'llama' | 'llava',
        preset: o.preset as 'tiny' | 'small',
        seed,
        dtype: o.dtype as 'float32' | 'bfloat16' | 'float16',
      });
      emit(Boolean(o.json), { dir: r.dir, arch: o.arch, preset: o.preset, parameters: r.parameters, files: r.files }, () =>
        `wrote ${o.arch}/${o.preset} model (${(r.parameters / 1e6).toFixed(2)}M parameters) to ${r.dir}: ${r.files.join(', ')}`,
      );
    });

  model
    .command('merge')
    .description('fold a PEFT LoRA adapter into its base model and write a plain model folder')
    .requiredOption('--model <dir>', 'base model folder')
    .requiredOption('--adapter <dir>', 'adapter folder (adapter_config.json, adapter_model.safetensors)')
    .requiredOption('--out <dir>', 'folder to write (never the base model\'s or the adapter\'s folder)')
    .option('--force', 'replace the model in a folder that already holds one')
    .option('--json', 'print one JSON object')
    .action(async (o: MergeOpts) => {
      const { checkOutputFolder, samePath } = await import('../../util/safe-fs.js');
      const out = resolve(o.out);
      // the merge reads the base while it writes: --force never makes that safe
      if (samePath(out, resolve(o.model))) throw new UserError(`--out ${out} is the base model (--model); write the merged model to another folder`);
      if (samePath(out, resolve(o.adapter))) throw new UserError(`--out ${out} is the adapter folder (--adapter); write the merged model to another folder`);
      checkOutputFolder(out);
      const { loadModel, saveModel } = await import('../../models/load.js');
      const { loadAdapter } = await import('../../models/peft.js');
      const { mergeLora } = await import('../../nn/adapters.js');
      const { copyTokenizerFiles, prepareModelOutput } = await import('../../models/files.js');
      if (!o.force) prepareModelOutput(out, false); // refuses an existing model before the work
      const { model: m, config } = loadModel(resolve(o.model));
      try {
        loadAdapter(m, resolve(o.adapter));
        const merged = mergeLora(m);
        prepareModelOutput(out, true);
        saveModel(m, config, out);
        const copied = copyTokenizerFiles(resolve(o.model), resolve(o.out));
        emit(Boolean(o.json), { dir: resolve(o.out), merged, copied }, () => `merged ${merged} adapter layers into ${resolve(o.out)}`);
      } finally {
        m.dispose();
      }
    });
}
