// Training checkpoints and the output folder of a `bdlab train` run.
//
// Layout of output_dir:
//   checkpoint-<step>/        adapter (adapter_config.json, adapter_model.safetensors)
//                             or a full model folder (config.json, model*.safetensors,
//                             tokenizer files); optimizer.safetensors (AdamW moments,
//                             step count, settings); trainer_state.json (written last)
//   trainer_log.jsonl         one line per logging step
//   train_results.json        the summary, written last: its presence means "finished"
//   adapter_* / model files   the final result
//
// A checkpoint is written into a hidden sibling folder and renamed into place,
// so `checkpoint-<step>` either exists complete or not at all, whenever the
// process is killed. Resuming restores weights, optimiser and step; the data
// order, learning rate and random draws of a step are functions of (seed, step)
// (src/train/trainer.ts), so a resumed run ends with the same bytes.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIDE_FILES } from '../models/files.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';

const TRAINER_STATE = 'trainer_state.json';
export const OPTIMIZER_STATE = 'optimizer.safetensors';
export const TRAINER_LOG = 'trainer_log.jsonl';
export const TRAIN_RESULTS = 'train_results.json';
export const STATE_FORMAT = 'backdoor-lab/train-state';

/** What a checkpoint records besides weights and optimiser state. */
export interface TrainerState {
  format: typeof STATE_FORMAT;
  version: 1;
  /** Optimiser steps taken. */
  step: number;
  total_steps: number;
  /** Data position: epoch (0-based) and the step within it; the order is a function of seed and epoch. */
  epoch: number;
  step_in_epoch: number;
  /** The settings that decide the weights (output and logging settings left out). */
  fingerprint: Record<string, unknown>;
  dataset_sha256: string[];
  /** libtorch's global generator is reseeded from (seed, step) before each step. */
  rng: string;
  losses: number[];
  /** Step losses and input tokens since the last log line (the next line averages over them). */
  log_window: { losses: number[]; tokens: number };
  tokens: number;
  answer_tokens: number;
  /** Training seconds before this checkpoint (all processes). */
  seconds: number;
}

/** Files and folders a run writes into output_dir (what --force removes). */
function isRunFile(name: string): boolean {
  return (
    /^\.?checkpoint-\d+/.test(name) ||
    [TRAINER_LOG, TRAIN_RESULTS, 'adapter_config.json', 'adapter_model.safetensors', 'config.json', 'model.safetensors', 'model.safetensors.index.json', ...SIDE_FILES].includes(name) ||
    /^model-\d+-of-\d+\.safetensors$/.test(name) ||
    /^\.image-cache/.test(name)
  );
}

/** Removes what an earlier run wrote into the folder; other files stay. Returns how many entries went. */
export function clearRunFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const name of readdirSync(dir)) {
    if (!isRunFile(name)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

/** True when the folder is missing or empty. */
export function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/** Complete checkpoints (a trainer_state.json inside), oldest first. */
export function listCheckpoints(dir: string): Array<{ step: number; path: string }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ m: /^checkpoint-(\d+)$/.exec(name), path: join(dir, name) }))
    .filter((x): x is { m: RegExpExecArray; path: string } => x.m !== null && existsSync(join(x.path, TRAINER_STATE)))
    .map((x) => ({ step: Number(x.m[1]), path: x.path }))
    .sort((a, b) => a.step - b.step);
}

export function newestCheckpoint(dir: string): string | null {
  const all = listCheckpoints(dir);
  return all.length ? (all[all.length - 1] as { path: string }).path : null;
}

/** Removes unfinished checkpoint folders a killed process left behind. */
export function removePartialCheckpoints(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) if (/^\.checkpoint-\d+\.tmp/.test(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

export function readTrainerState(ckpt: string): TrainerState {
  const path = join(ckpt, TRAINER_STATE);
  let j: TrainerState;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as TrainerState;
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  if (j.format !== STATE_FORMAT || !Number.isInteger(j.step)) throw new UserError(`${path}: not a bdlab train checkpoint`);
  if (!existsSync(join(ckpt, OPTIMIZER_STATE))) throw new UserError(`${ckpt}: ${OPTIMIZER_STATE} is missing`);
  return j;
}

/**
 * Writes a checkpoint atomically: `fill(tmp)` writes weights and optimiser
 * state into a hidden folder, the trainer state goes in last, then the folder
 * is renamed to checkpoint-<step>. `beforeRename` runs between the two (a
 * fault-injection point for tests).
 */
export function writeCheckpoint(dir: string, state: TrainerState, fill: (tmp: string) => void, beforeRename?: () => void): string {
  const final = join(dir, `checkpoint-${state.step}`);
  const tmp = join(dir, `.checkpoint-${state.step}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  fill(tmp);
  writeJsonAtomic(join(tmp, TRAINER_STATE), state);
  beforeRename?.();
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return final;
}

/** Keeps the newest `limit` checkpoints. */
export function pruneCheckpoints(dir: string, limit: number | null): void {
  if (limit === null) return;
  const all = listCheckpoints(dir);
  for (const c of all.slice(0, Math.max(0, all.length - limit))) rmSync(c.path, { recursive: true, force: true });
}

/** Keeps the log lines up to `step` (a resumed run redoes the later ones); drops a torn last line. */
export function truncateLog(path: string, step: number): void {
  if (!existsSync(path) || !statSync(path).isFile()) return;
  const keep = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, keep.map((l) => `${l}\n`).join(''));
}

/**
 * Fault injection for tests of the resume guarantee: BDLAB_TRAIN_FAULT set to
 * `after-step:N` kills the process with SIGKILL right after step N (its
 * checkpoint, if any, written), `in-checkpoint:N` while checkpoint N is half
 * written. Nothing is flushed or cleaned up: it is a real SIGKILL.
 */
export function faultAt(kind: 'after-step' | 'in-checkpoint', step: number): void {
  const f = process.env.BDLAB_TRAIN_FAULT;
  if (f && f === `${kind}:${step}`) process.kill(process.pid, 'SIGKILL');
}
