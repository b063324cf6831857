import { Option, type Command } from '../../commander.js';
import { UserError } from '../../../util/errors.js';
import type { Subject } from '../../../eval/results.js';

/** Options every `bdlab eval` subcommand records in its result file. */
export interface MetaOptions {
  json?: boolean;
  out?: string;
  label?: string[];
}

/** Flags that were labels before --label; they are inputs elsewhere (generate --model, poison --seed). */
const FORMER_LABELS = ['model', 'attack', 'domain', 'template', 'seed'] as const;

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/**
 * Adds --json, --out and --label key=value (repeatable). Labels only describe
 * the run: they are recorded in the result's subject (`seed` also fills the
 * result's seed, `template` its prompts.template) and read by `eval
 * aggregate`; nothing is computed from them.
 */
export function withCommonOptions(cmd: Command, formerLabels: readonly string[] = FORMER_LABELS): Command {
  cmd
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--out <file>', 'also write the full versioned result record to this file (never one of the inputs)')
    .option(
      '--label <key=value>',
      'describe the run in the result record, e.g. --label model=victim-7b --label attack=badnet --label seed=1 (repeatable; seed and template also fill the record\'s seed and prompts.template)',
      collect,
    );
  for (const f of formerLabels) cmd.addOption(new Option(`--${f} <value>`).hideHelp());
  cmd.hook('preAction', (_this, action) => {
    const o = action.opts() as Record<string, unknown>;
    for (const f of formerLabels) {
      if (o[f] !== undefined) throw new UserError(`--${f} is not an input of eval ${action.name()}; labels are given as --label ${f}=${String(o[f])}`);
    }
    labelsOf(o as unknown as MetaOptions); // a bad label fails before any work
  });
  return cmd;
}

/** The --label pairs, checked: snake_case keys, each once, non-empty values; `task` is the evaluation's own. */
export function labelsOf(o: MetaOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of o.label ?? []) {
    const eq = l.indexOf('=');
    if (eq < 0) throw new UserError(`--label must be key=value, got ${JSON.stringify(l)}`);
    const key = l.slice(0, eq);
    const value = l.slice(eq + 1);
    if (!/^[a-z][a-z0-9_]*$/.test(key)) throw new UserError(`--label ${JSON.stringify(l)}: the key must be snake_case (a-z, 0-9, _; starting with a letter)`);
    if (key === 'task') throw new UserError('--label task=...: the task is recorded by the evaluation itself');
    if (value === '') throw new UserError(`--label ${key}= has no value`);
    if (Object.hasOwn(out, key)) throw new UserError(`--label ${key} given twice`);
    out[key] = value;
  }
  return out;
}

export function subjectOf(o: MetaOptions, task?: string): Subject {
  return { ...labelsOf(o), task };
}

/** The result's seed: the `seed` label, an integer. */
export function seedOf(o: MetaOptions): number | null {
  const s = labelsOf(o).seed;
  if (s === undefined) return null;
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new UserError(`--label seed must be an integer, got ${JSON.stringify(s)}`);
  return v;
}

/** The result's prompts.template: the `template` label. */
export function templateOf(o: MetaOptions): string | null {
  return labelsOf(o).template ?? null;
}

/** Parses a finite number flag. */
export function numberFlag(name: string, s: string | undefined, range?: { min?: number; max?: number; integer?: boolean }): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) throw new UserError(`${name} must be a number, got ${JSON.stringify(s)}`);
  if (range?.integer && !Number.isInteger(v)) throw new UserError(`${name} must be an integer, got ${s}`);
  if (range?.min !== undefined && v < range.min) throw new UserError(`${name} must be at least ${range.min}, got ${s}`);
  if (range?.max !== undefined && v > range.max) throw new UserError(`${name} must be at most ${range.max}, got ${s}`);
  return v;
}

/** Runs `fn`, turning a RangeError from the library into a user error. */
export function userErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(e.message);
    throw e;
  }
}

export function pct(v: number | null, digits = 2): string {
  return v === null ? 'n/a' : `${v.toFixed(digits)} %`;
}

export function interval(ci: readonly [number, number] | null | undefined, digits = 2): string {
  return ci ? `[${ci[0].toFixed(digits)}, ${ci[1].toFixed(digits)}]` : '';
}
