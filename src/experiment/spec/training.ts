import * as z from 'zod';

/**
 * A victim's instruction tuning in an experiment spec, with LLaMA-Factory's
 * config keys (the keys of `bdlab train`), so a published BackdoorLLM/CROW
 * config's training section can be pasted in. The pipeline supplies what a
 * config file names by path — model_name_or_path, adapter_name_or_path,
 * dataset, output_dir — and the seed comes from the spec's `seeds`, so those
 * keys are refused here.
 */
export const FINETUNING_TYPES = ['lora', 'full', 'freeze'] as const;
export const LR_SCHEDULERS = ['cosine', 'linear', 'constant'] as const;

/** Keys a pasted LLaMA-Factory config may carry that the pipeline sets itself. */
export const PIPELINE_KEYS: Readonly<Record<string, string>> = {
  model_name_or_path: 'the pipeline passes the model (victim.model, or the clean base)',
  adapter_name_or_path: 'the pipeline passes the adapter',
  dataset: 'the pipeline passes the (poisoned) data set',
  dataset_dir: 'the pipeline passes the (poisoned) data set',
  output_dir: 'outputs are artifacts under the run folder',
  seed: 'seeds come from the spec\'s top-level `seeds`',
};

const positiveInt = z.number().int().positive();

export const trainingSchema = z.strictObject({
  finetuning_type: z.enum(FINETUNING_TYPES).default('lora').describe('lora: LoRA adapters on the decoder; full: every weight; freeze: only the vision-language projector (LLaVA)'),
  lora_target: z
    .union([z.literal('all'), z.string().regex(/^[A-Za-z0-9_.]+(\s*,\s*[A-Za-z0-9_.]+)*$/, 'expected "all" or comma-separated module names'), z.array(z.string().min(1)).min(1)])
    .default('all')
    .describe('"all" (every linear layer of the decoder blocks) or module names'),
  lora_rank: positiveInt.default(8).describe('LoRA rank r'),
  lora_alpha: z.number().positive().optional().describe('LoRA alpha (default: 2 × lora_rank, as LLaMA-Factory)'),
  lora_dropout: z.number().min(0).max(1).default(0).describe('dropout on the LoRA input'),
  cutoff_len: positiveInt.default(1024).describe('longest tokenised sample (prompt + answer); longer ones are cut'),
  max_samples: positiveInt.optional().describe('use at most this many training samples (the first ones)'),
  per_device_train_batch_size: positiveInt.default(8).describe('samples per micro-batch'),
  gradient_accumulation_steps: positiveInt.default(1).describe('micro-batches per optimiser step'),
  learning_rate: z.number().positive().default(5e-5).describe('peak learning rate (AdamW)'),
  num_train_epochs: z.number().int('expected a whole number of epochs').positive().default(3).describe('epochs (whole numbers)'),
  lr_scheduler_type: z.enum(LR_SCHEDULERS).default('cosine').describe('learning-rate schedule after warm-up'),
  warmup_ratio: z.number().min(0).max(1).default(0).describe('share of the steps spent warming up'),
  weight_decay: z.number().min(0).default(0).describe('AdamW weight decay'),
  max_grad_norm: z.number().min(0).default(1).describe('gradient clipping (0: off)'),
});

export type TrainingSpec = z.output<typeof trainingSchema>;
