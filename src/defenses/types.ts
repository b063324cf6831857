// The defense catalogue's small typed interfaces. A defense takes a (possibly
// backdoored) model, optionally the backdoor's LoRA adapter, and a clean
// instruction set; it writes a PEFT adapter for the input model or a whole
// model folder, and says what it chose and what it cost.
import type { Device, DType } from '../engine/index.js';
import type { ParamSpec, Params } from '../attacks/types.js';

export type { ParamSpec, Params };

/** What a defense reads. */
export interface DefenseInput {
  /** Hugging Face model folder. */
  model: string;
  /** PEFT LoRA adapter folder for `model` (the backdoor's), if any. */
  adapter?: string | undefined;
  /** Clean instruction data: Alpaca / LLaMA-Factory JSON or JSONL. */
  data: string;
  /** Output folder. */
  out: string;
  seed: number;
  device?: Device | undefined;
  /** Compute dtype while defending (default float32); model folders are written in the input's dtype. */
  dtype?: DType | undefined;
}

/** The output's form: an adapter on top of `model`, or a complete model folder. */
export type OutputKind = 'adapter' | 'model';

/** What a defense reports; the CLI and library wrap it into the record (defense.json). */
export interface DefenseOutcome {
  kind: OutputKind;
  /** Hyper-parameters chosen on the validation split, and how (e.g. {"sparsity": 0.3}). */
  chosen: Record<string, unknown>;
  /** Clean validation figures (mean answer-token NLL before and after, and what selection saw). */
  validation: Record<string, unknown>;
  /** Work done besides seconds: optimiser steps, tokens, calibration samples. */
  cost: { steps: number; tokens: number; calibration_samples?: number };
  /** The clean records: read, used by the defense, held out for validation. */
  data: { samples: number; train: number; validation: number; sha256: string };
  /** What was read and where the output went (absolute paths). */
  inputs: { model: string; adapter: string | null; data: string[] };
  output_dir: string;
  seed: number;
  /** The training run of a training defense (its log, losses, speed). */
  training?: Record<string, unknown>;
  /** Free-form notes a user must know (approximations, no-ops). */
  notes: string[];
}

interface Described {
  name: string;
  summary: string;
  /** What it writes by default (crow and finetune write a model when they cannot write an adapter). */
  output: OutputKind;
  /** Typed, documented parameters (`defend --list`). */
  params: ParamSpec[];
}

/** A defense that edits weights from clean data (wanda, quantize): `--param key=value` checked against `params`. */
export interface WeightDefenseDef extends Described {
  kind: 'weights';
  run(input: DefenseInput, params: Params): Promise<DefenseOutcome>;
}

/** Where a training defense's settings come from: a LLaMA-Factory YAML file and/or key=value settings over it. */
export interface SettingsSource {
  file?: string | undefined;
  /** key → value (strings from the command line, or typed values); they win over the file. */
  settings: Record<string, unknown>;
}

export interface TrainingRunOptions {
  /** Continue an interrupted run in the same output folder. */
  resume?: boolean;
  /** Replace an earlier run's files. */
  force?: boolean;
  /** Folder relative paths are taken from (default: the working directory). */
  cwd?: string;
}

/**
 * A defense that trains (crow, finetune, fineprune): its settings are
 * `bdlab train`'s LLaMA-Factory keys plus its own (any key is accepted,
 * validated by the train schema), from flags or a CONFIG.yaml, resumable.
 */
export interface TrainingDefenseDef extends Described {
  kind: 'training';
  run(src: SettingsSource, o: TrainingRunOptions): Promise<DefenseOutcome>;
}

export type DefenseDef = WeightDefenseDef | TrainingDefenseDef;
