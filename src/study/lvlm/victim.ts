// The victim's instruction tuning, through `bdlab train` (src/train): the
// clean base tuned on the poisoned set of the attacker's domain, trainable per
// the study's fine-tuning mode — `projector` (only the cross-modal projector,
// the fusion layers of the domain-shift study: finetuning_type freeze on a
// LLaVA model), `projector+attention` (the projector and LoRA on the
// decoder's attention, where text positions read the image tokens), `lora`
// (the projector and LoRA on every decoder linear, LLaVA's LoRA recipe) or
// `full`. A victim folder is what `bdlab train` writes: a model folder
// (projector, full) or a PEFT adapter over the base (LoRA modes).
import { loadModel } from '../../models/load.js';
import type { LlavaForConditionalGeneration } from '../../models/llava.js';
import { readImageProcessorConfig, type ImageProcessorConfig } from '../../models/image-processor.js';
import { loadAdapter } from '../../models/peft.js';
import { TextTokenizer } from '../../models/tokenizer.js';
import { parseTrainConfig, type TrainConfig } from '../../train/config.js';
import { runTraining, type TrainSummary } from '../../train/run.js';
import type { Finetuning, TrainSpec } from './config.js';

export interface LoadedVictim {
  model: LlavaForConditionalGeneration;
  tok: TextTokenizer;
  cfg: ImageProcessorConfig;
}

export interface LoraSpec {
  lora_rank: number;
  lora_alpha: number;
}

/** What a study records of a training run. */
export interface StudyTraining {
  steps: number;
  first_loss: number;
  last_loss: number;
  seconds: number;
  samples: number;
  trained_parameters: number;
  /** What trained, in words (bdlab train's summary). */
  trainable: string;
}

const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];

/** The study's modes in `bdlab train` (LLaMA-Factory) keys. */
function finetuningKeys(mode: Finetuning | 'base', lora: LoraSpec): Record<string, unknown> {
  switch (mode) {
    case 'projector':
      return { finetuning_type: 'freeze' };
    case 'projector+attention':
    case 'lora':
      return { finetuning_type: 'lora', lora_target: mode === 'lora' ? ['all'] : ATTENTION, lora_rank: lora.lora_rank, lora_alpha: lora.lora_alpha, freeze_multi_modal_projector: false };
    case 'full':
    case 'base':
      // the base trains every part, the tower included; `full` tuning does the same on the base
      return { finetuning_type: 'full', freeze_vision_tower: false, freeze_multi_modal_projector: false };
  }
}

/** A `bdlab train` configuration for one of the study's trainings. */
export function studyTrainConfig(o: { model: string; dataset: string; mediaDir?: string; output: string; mode: Finetuning | 'base'; spec: TrainSpec; lora: LoraSpec; seed: number }): TrainConfig {
  return parseTrainConfig({
    model_name_or_path: o.model,
    dataset: [o.dataset],
    media_dir: o.mediaDir ?? null,
    output_dir: o.output,
    ...finetuningKeys(o.mode, o.lora),
    template: 'auto',
    cutoff_len: 512,
    per_device_train_batch_size: o.spec.batch_size,
    learning_rate: o.spec.lr,
    num_train_epochs: o.spec.epochs,
    lr_scheduler_type: 'cosine',
    warmup_ratio: o.spec.warmup_ratio,
    weight_decay: 0,
    max_grad_norm: 1,
    save_strategy: 'no',
    seed: o.seed,
    // the study's victims are sized for CPU, where it evaluates them too
    device: 'cpu',
  });
}

export function studyTraining(s: TrainSummary): StudyTraining {
  return { steps: s.steps, first_loss: s.first_loss, last_loss: s.last_loss, seconds: s.seconds, samples: s.samples, trained_parameters: s.trainable_parameters, trainable: s.trainable };
}

/** Tunes the base on a LLaVA file (a poisoned set) into `dir`. */
export async function tuneVictim(
  baseDir: string,
  data: { file: string },
  mode: Finetuning,
  spec: TrainSpec & LoraSpec,
  seed: number,
  dir: string,
  label: string,
): Promise<StudyTraining> {
  const config = studyTrainConfig({ model: baseDir, dataset: data.file, output: dir, mode, spec, lora: spec, seed });
  return studyTraining(await runTraining({ config, label, note: () => {} }));
}

/** A victim ready to caption: its model folder, or the base with its adapter. */
export function loadVictim(baseDir: string, victimDir: string, mode: Finetuning): LoadedVictim {
  const lora = mode === 'lora' || mode === 'projector+attention';
  const { model } = loadModel(lora ? baseDir : victimDir);
  const m = model as LlavaForConditionalGeneration;
  try {
    if (lora) loadAdapter(m, victimDir);
    for (const p of m.parameters()) p.requiresGrad_(false);
  } catch (e) {
    m.dispose();
    throw e;
  }
  return { model: m, tok: TextTokenizer.load(baseDir), cfg: readImageProcessorConfig(baseDir, m.config.vision.imageSize) };
}

