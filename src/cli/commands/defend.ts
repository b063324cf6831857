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
  seed: string;
  device?: string;
  dtype: string;
  force?: boolean;
  json?: boolean;
}

/**
 * `bdlab defend NAME --model M [--adapter A] --data CLEAN.json --out DIR`:
 * runs a defense from the catalogue (src/defenses) and writes its adapter or
 * model folder plus DIR/defense.json (what was chosen on the validation
 * split, clean losses, cost). `--list` prints the catalogue.
 */
export function registerDefend(program: Command): void {
  program
    .command('defend')
    .description('remove a backdoor: crow, finetune, wanda, fineprune or quantize; writes an adapter or model folder and DIR/defense.json')
    .argument('[name]', 'defense name (see --list)')
    .option('--list', 'list the defenses and their parameters')
    .option('--model <dir>', 'Hugging Face model folder (the victim)')
    .option('--adapter <dir>', "the backdoor's PEFT LoRA adapter for --model, if any")
    .option('--data <file>', 'clean instruction records (Alpaca / LLaMA-Factory JSON or JSONL), e.g. CROW\'s 100-sample set')
    .option('--out <dir>', 'output folder')
    .option('--param <key=value...>', 'defense parameters (repeat the flag or list several)', [])
    .option('--seed <n>', 'seed of the validation split, adapter initialisation and data order', '0')
    .option('--device <device>', 'cpu or cuda[:N] (default: cpu)')
    .option('--dtype <dtype>', 'compute dtype: float32, bfloat16 or float16 (model folders are written in the input\'s dtype)', 'float32')
    .option('--force', 'write into a non-empty output folder')
    .option('--json', 'print the record as one JSON object')
    .action(async (name: string | undefined, f: DefendFlags) => {
      const { listDefenses, runDefense } = await import('../../defenses/index.js');
      if (f.list) {
        const all = listDefenses().map((d) => ({ name: d.name, summary: d.summary, output: d.output, params: d.params }));
        emit(Boolean(f.json), { defenses: all }, () =>
          all
            .map((d) =>
              [`${d.name} — ${d.summary} (writes ${d.output === 'adapter' ? 'an adapter' : 'a model folder'})`, ...d.params.map((p) => `      ${p.name}=${String(p.default)}  ${p.doc}${p.choices ? ` (${p.choices.join(', ')})` : ''}`)].join('\n'),
            )
            .join('\n'),
        );
        return;
      }
      if (name === undefined) throw new UserError('give a defense name (bdlab defend --list shows them)');
      for (const [k, flag] of [['model', '--model'], ['data', '--data'], ['out', '--out']] as const) {
        if (f[k] === undefined) throw new UserError(`${flag} is required`);
      }
      const seed = Number(f.seed);
      if (!/^\d+$/.test(f.seed.trim()) || !Number.isSafeInteger(seed)) throw new UserError(`--seed must be a non-negative integer, got '${f.seed}'`);
      if (!['float32', 'bfloat16', 'float16'].includes(f.dtype)) throw new UserError(`--dtype must be float32, bfloat16 or float16, got '${f.dtype}'`);
      const device = f.device ?? 'cpu';
      if (device !== 'cpu' && !/^cuda(:\d+)?$/.test(device)) throw new UserError(`--device must be cpu or cuda[:N], got '${device}'`);
      const { parseParamArgs } = await import('../../attacks/params.js');
      const record = await runDefense(
        name,
        {
          model: resolve(f.model as string),
          adapter: f.adapter === undefined ? undefined : resolve(f.adapter),
          data: resolve(f.data as string),
          out: resolve(f.out as string),
          seed,
          device: device as 'cpu',
          dtype: f.dtype as 'float32',
        },
        parseParamArgs(f.param),
        { force: Boolean(f.force) },
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
