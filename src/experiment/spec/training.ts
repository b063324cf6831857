import * as z from 'zod';
import { TRAIN_CONFIG_SHAPE } from '../../train/config.js';

/**
 * A victim's instruction tuning in an experiment spec: `bdlab train`'s
 * LLaMA-Factory keys (src/train/config.ts, one schema for both), so a
 * published BackdoorLLM/CROW config's training section can be pasted in. The
 * pipeline supplies what a config file names by path and what its artifact
 * cache decides, so those keys are refused here with the reason.
 */
export const PIPELINE_KEYS: Readonly<Record<string, string>> = {
  model_name_or_path: 'the pipeline passes the model (victim.model, or the clean base)',
  adapter_name_or_path: 'the pipeline passes the adapter',
  dataset: 'the pipeline passes the (poisoned) data set',
  dataset_dir: 'the pipeline passes the (poisoned) data set',
  media_dir: 'the pipeline passes the images of the data set',
  output_dir: 'outputs are artifacts under the run folder',
  overwrite_output_dir: 'artifacts are never overwritten; a changed setting makes a new one',
  resume_from_checkpoint: 'an interrupted stage runs again from its start; finished stages are reused',
  save_steps: 'an interrupted stage runs again from its start, so it keeps no checkpoints',
  save_strategy: 'an interrupted stage runs again from its start, so it keeps no checkpoints',
  save_total_limit: 'an interrupted stage runs again from its start, so it keeps no checkpoints',
  logging_steps: 'every step is logged (the report draws the loss curves)',
  seed: 'seeds come from the spec\'s top-level `seeds`',
};

const shape = Object.fromEntries(Object.entries(TRAIN_CONFIG_SHAPE).filter(([k]) => !Object.hasOwn(PIPELINE_KEYS, k))) as Omit<typeof TRAIN_CONFIG_SHAPE, keyof typeof PIPELINE_KEYS & keyof typeof TRAIN_CONFIG_SHAPE>;

export const trainingSchema = z
  .strictObject(shape)
  .describe('`bdlab train`\'s LLaMA-Factory keys (docs/training.md) with their defaults, except the ones the pipeline sets: model_name_or_path, adapter_name_or_path, dataset, dataset_dir, media_dir, output_dir, overwrite_output_dir, resume_from_checkpoint, save_steps, save_strategy, save_total_limit, logging_steps, seed');

export type TrainingSpec = z.output<typeof trainingSchema>;
