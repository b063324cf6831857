import type { Command } from 'commander';
import { resolve } from 'node:path';
import { emit } from '../output.js';
import { UserError } from '../../util/errors.js';

interface DefendFlags {
  list?: boolean;
  model?: string;
  adapter?: string;
  data?: string;
  out?: string;
  param: string[];
  seed?: string;
  device?: string;
  dtype?: string;
  resume?: boolean;
  force?: boolean;
  json?: boolean;
}

const HELP = `
Weight defenses (wanda, quantize) take --param key=value (see --list).
Training defenses (crow, finetune, fineprune) take bdlab train's LLaMA-Factory
keys as --param key=value, or a CONFIG.yaml such as the CROW repository's
configs/consistency/*.yaml with its paths changed (--model, --adapter, --data,
--out and --param win over the file), plus their own keys (crow: epsilon,
alpha, layers, padding; all: validation, select). Without a file they start
from CROW's published recipe. They write DIR/training (log, checkpoints;
--resume continues there) and DIR/data (the validation split).

Examples:
  bdlab defend crow --model base --adapter backdoor --data consistency_data.json --out crow
  bdlab defend crow llama2_7b_consistency_negsenti_badnet_lora.yaml --model base --adapter backdoor \\
      --param dataset_dir=backdoorllm --out crow
  bdlab defend wanda --model base --adapter backdoor --data clean.json --out pruned --param pattern=2:4`;

/**
 * `bdlab defend NAME [CONFIG.yaml]`: runs a defense from the catalogue
 * (src/defenses) and writes its adapter or model folder plus DIR/defense.json
 * (what was chosen on the validation split, clean losses, cost). `--list`
 * prints the catalogue.
 */
export function registerDefend(program: Command): void {
  program
    .command('defend')
    .description('remove a backdoor: crow, finetune, wanda, fineprune or quantize; writes an adapter or model folder and DIR/defense.json')
    .argument('[name]', 'defense name (see --list)')
    .argument('[config]', 'training defenses: a LLaMA-Factory CONFIG.yaml')
    .option('--list', 'list the defenses and their parameters')
    .option('--model <dir>', 'Hugging Face model folder (the victim)')
    .option('--adapter <dir>', "the backdoor's PEFT LoRA adapter for --model, if any")
    .option('--data <file>', "clean instruction records (Alpaca / LLaMA-Factory JSON or JSONL), e.g. CROW's 100-sample set")
    .option('--out <dir>', 'output folder')
    .option('--param <key=value...>', 'parameters or settings (repeat the flag or list several)', [])
    .option('--seed <n>', 'seed of the validation split, adapter initialisation and data order (default 0, or the config\'s)')
    .option('--device <device>', 'cpu or cuda[:N] (default: cpu for weight defenses, the config\'s for training ones)')
    .option('--dtype <dtype>', "compute dtype: float32, bfloat16 or float16 (model folders are written in the input's dtype)")
    .option('--resume', 'training defenses: continue an interrupted run in its output folder')
    .option('--force', 'write into a non-empty output folder')
    .option('--json', 'print the record as one JSON object')
    .addHelpText('after', HELP)
    .action(async (name: string | undefined, config: string | undefined, f: DefendFlags) => {
      const { listDefenses, runDefense } = await import('../../defenses/index.js');
      if (f.list) {
        const all = listDefenses().map((d) => ({ name: d.name, kind: d.kind, summary: d.summary, output: d.output, params: d.params }));
        emit(Boolean(f.json), { defenses: all }, () =>
          all
            .map((d) =>
              [
                `${d.name} — ${d.summary} (writes ${d.output === 'adapter' ? 'an adapter' : 'a model folder'})`,
                ...d.params.map((p) => `      ${p.name}=${String(p.default)}  ${p.doc}${p.choices ? ` (${p.choices.join(', ')})` : ''}`),
                ...(d.kind === 'training' ? ["      ... and every other key of bdlab train (docs/training.md)"] : []),
              ].join('\n'),
            )
            .join('\n'),
        );
        return;
      }
      if (name === undefined) throw new UserError('give a defense name (bdlab defend --list shows them)');
      const { parseParamArgs } = await import('../../attacks/params.js');
      let seed: number | undefined;
      if (f.seed !== undefined) {
        seed = Number(f.seed);
        if (!/^\d+$/.test(f.seed.trim()) || !Number.isSafeInteger(seed)) throw new UserError(`--seed must be a non-negative integer, got '${f.seed}'`);
      }
      if (f.dtype !== undefined && !['float32', 'bfloat16', 'float16'].includes(f.dtype)) throw new UserError(`--dtype must be float32, bfloat16 or float16, got '${f.dtype}'`);
      const { resolveDevice } = await import('../../engine/runtime.js');
      const device = f.device === undefined ? undefined : resolveDevice(f.device);
      const r = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(p));
      const record = await runDefense(
        name,
        {
          model: r(f.model),
          adapter: r(f.adapter),
          data: r(f.data),
          out: r(f.out),
          seed,
          device,
          dtype: f.dtype as 'float32' | undefined,
        },
        parseParamArgs(f.param),
        { config: r(config), resume: Boolean(f.resume), force: Boolean(f.force) },
      );
      emit(Boolean(f.json), record, () => {
        const v = record.validation;
        const loss = (x: unknown): string => (typeof x === 'number' ? x.toFixed(4) : 'n/a');
        return [
          `${record.defense}: wrote ${record.output.kind === 'adapter' ? 'an adapter' : 'a model folder'} to ${record.output.path} (record: defense.json)`,
          `chosen: ${JSON.stringify(record.chosen)}`,
          `clean validation loss ${loss(v.loss_before)} -> ${loss(v.loss_after)} on ${String(v.records)} held-out records`,
          `cost: ${record.cost.clean_samples} clean samples, ${record.cost.steps} steps, ${record.cost.seconds.toFixed(1)} s`,
          ...record.notes.map((n) => `note: ${n}`),
        ].join('\n');
      });
    });
}
