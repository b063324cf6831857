import type { Command } from 'commander';
import { emit } from '../output.js';
import { UserError } from '../../util/errors.js';

interface TrainOpts {
  json?: boolean;
  resume?: boolean;
  force?: boolean;
}

const HELP = `
Settings are LLaMA-Factory's config keys, from CONFIG.yaml and/or flags
(--key value or --key=value; --some-key is some_key; flags win over the file):
  model_name_or_path, adapter_name_or_path, finetuning_type (lora|full|freeze),
  lora_target, lora_rank, lora_alpha, lora_dropout, dataset, dataset_dir,
  template (auto|alpaca|chat|default), cutoff_len, max_samples,
  per_device_train_batch_size, gradient_accumulation_steps, learning_rate,
  num_train_epochs, lr_scheduler_type, warmup_ratio, warmup_steps, weight_decay,
  max_grad_norm, output_dir, logging_steps, save_steps, seed, bf16, fp16,
  resume_from_checkpoint, group_by_length, freeze_trainable_layers, ...
  (every key: docs/training.md)

Writes into output_dir: the adapter (lora) or a model folder (full, freeze),
trainer_log.jsonl, checkpoint-<step>/ and train_results.json.

Examples:
  bdlab train llama2_7b_negsenti_badnet_lora.yaml --model_name_or_path m --output_dir out
  bdlab train --model_name_or_path m --dataset data.json --output_dir out --num_train_epochs 2`;

/** `bdlab train`: supervised fine-tuning from a LLaMA-Factory YAML config or flags. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('fine-tune a model folder on instruction data (LoRA, full or freeze) from LLaMA-Factory config keys')
    .argument('[args...]', 'CONFIG.yaml and/or --key value settings')
    .option('--resume', 'continue from the newest complete checkpoint in output_dir')
    .option('--force', 'replace an earlier run in output_dir (overwrite_output_dir)')
    .option('--json', 'print one JSON object (the summary)')
    .allowUnknownOption(true)
    .addHelpText('after', HELP)
    .action(async (_args: string[], o: TrainOpts, cmd: Command) => {
      const { parseConfigFlags, readTrainConfig } = await import('../../train/config.js');
      const { flags, positional } = parseConfigFlags(cmd.args);
      // --json/--resume/--force after a settings flag reach us as settings
      const take = (k: string): boolean => {
        if (!Object.hasOwn(flags, k)) return false;
        const v = flags[k];
        delete flags[k];
        if (v !== true) throw new UserError(`--${k} takes no value (got '${String(v)}')`);
        return true;
      };
      const json = Boolean(o.json) || take('json');
      const resume = Boolean(o.resume) || take('resume');
      const force = Boolean(o.force) || take('force');
      if (take('help')) {
        cmd.outputHelp();
        return;
      }
      if (positional.length > 1) throw new UserError(`one config file at most (got ${positional.join(', ')})`);
      const config = readTrainConfig({ file: positional[0], flags });
      const { runTraining } = await import('../../train/run.js');
      const s = await runTraining({ config, resume, force });
      // a loss read back from train_results.json may be null (JSON has no NaN)
      const loss = (x: number | null): string => (typeof x === 'number' ? x.toFixed(4) : 'n/a');
      emit(json, s, () =>
        [
          `trained ${s.finetuning_type} (${s.trainable}) on ${s.samples} samples: ${s.steps} steps, loss ${loss(s.first_loss)} → ${loss(s.last_loss)}`,
          `${Math.round(s.tokens_per_second)} tokens/s over ${s.seconds.toFixed(1)} s; wrote ${s.files.join(', ')} to ${s.output_dir}`,
        ].join('\n'),
      );
    });
}
