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
  /** Free-form notes a user must know (approximations, no-ops). */
  notes: string[];
}

export interface DefenseDef {
  name: string;
  summary: string;
  /** What it writes by default (crow and finetune write a model when they cannot write an adapter). */
  output: OutputKind;
  params: ParamSpec[];
  run(input: DefenseInput, params: Params): Promise<DefenseOutcome>;
}
