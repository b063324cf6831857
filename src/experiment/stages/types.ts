/**
 * The pipeline's stage interface. A stage kind is one file in this folder that
 * calls `registerStage` with an object of this shape; the runner does the rest
 * (cache keys, atomic artifact folders, skipping what is done, progress).
 *
 * Contract:
 * - `run` writes its files into `ctx.dir` and returns a small JSON summary
 *   (the artifact's `output`; relative file names, counts — never absolute
 *   paths, never times). Same params + same input bytes ⇒ same files and output
 *   (every random choice from `new Rng(seed, ...)`, seed in the params).
 * - Inputs arrive as `Input`s: a file or folder path, its content hash and,
 *   for upstream artifacts, their output summary. A stage reads nothing else.
 * - The cache key is sha256 over (kind, version, tool version, canonical JSON
 *   of params, the inputs' content hashes): bump `version` when the files a
 *   stage writes change meaning for the same params.
 * - Durations never go into the output; the runner records them separately.
 */
import type { ModelPool } from './model-pool.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Input {
  /** The artifact folder, one file of it, or a file/folder the spec names. */
  path: string;
  /** Content hash (sha256 hex) of what `path` holds. */
  sha256: string;
  /** The upstream stage's output summary; null for files and external inputs. */
  output: Json | null;
}

export interface StageContext<P> {
  params: P;
  inputs: Readonly<Record<string, Input>>;
  /** The folder to write into (a temporary one, renamed into place when `run` returns). */
  dir: string;
  /** A line on stderr, prefixed with the stage's id. */
  log(line: string): void;
  /** Loads models (with adapters), keeping the last one for the next stage that uses it. */
  models: ModelPool;
}

export interface StageKind<P = unknown, O extends Json = Json> {
  /** Lower-case name; artifacts go to `artifacts/<kind>/<key>/`. */
  readonly kind: string;
  /** Part of every cache key; bump when outputs change for the same params and inputs. */
  readonly version: number;
  /** One line for `--dry-run` and the log. */
  describe(params: P): string;
  /** Why this build cannot run a stage with these params, or null when it can. */
  unavailable?(params: P): string | null;
  run(ctx: StageContext<P>): Promise<O>;
}

/** A stage kind as the registry holds it (params and output checked by the stage itself). */
export type AnyStageKind = StageKind<never, Json>;
