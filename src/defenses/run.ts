// Running a defense by name: a weight defense's parameters resolved against
// its spec, a training defense's settings from flags and/or a CONFIG.yaml; the
// run timed; the record written next to what the defense wrote
// (DIR/defense.json, snake_case).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { defenseDef, defenseParams } from './registry.js';
import type { DefenseInput, DefenseOutcome, OutputKind, Params } from './types.js';

export const RECORD_FILE = 'defense.json';

export interface DefenseRecord {
  schema: 'backdoor-lab/defense';
  version: 1;
  defense: string;
  /** The parameters (weight defenses) or settings (training defenses) as given on top of the defaults or the config file. */
  params: Record<string, unknown>;
  config_file: string | null;
  /** Hyper-parameters chosen on the clean validation split, and the rule. */
  chosen: Record<string, unknown>;
  model: string;
  adapter: string | null;
  data: { paths: string[] } & DefenseOutcome['data'];
  /** What was written: a PEFT adapter for `model`, or a whole model folder. */
  output: { kind: OutputKind; path: string; base_model: string | null };
  validation: Record<string, unknown>;
  /** Seconds of this call (a resumed training run adds its earlier seconds in training.seconds). */
  cost: { clean_samples: number; steps: number; seconds: number; tokens: number; calibration_samples?: number };
  training: Record<string, unknown> | null;
  notes: string[];
  seed: number;
  created: string;
}

/** Refuses to write into a non-empty folder unless forced. */
export function checkOutDir(dir: string, force: boolean, flag = '--out'): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UserError(`${flag} ${dir}: exists and is not a folder`);
  if (!force && readdirSync(dir).length > 0) throw new UserError(`${flag} ${dir}: folder is not empty (use --force to write into it${flag === 'output_dir' ? ', or --resume to continue an interrupted run' : ''})`);
}

export interface RunDefenseOptions {
  /** A LLaMA-Factory CONFIG.yaml (training defenses). */
  config?: string | undefined;
  resume?: boolean;
  force?: boolean;
}

/**
 * Runs the named defense and writes its record; returns the record. `input`
 * holds the flag form's paths and seed (for training defenses, whichever are
 * given override the config file); `raw` the parameters or settings.
 */
export async function runDefense(name: string, input: Partial<DefenseInput>, raw: Readonly<Record<string, unknown>> = {}, o: RunDefenseOptions = {}): Promise<DefenseRecord> {
  const def = defenseDef(name);
  for (const [flag, p] of [['--model', input.model], ['--data', input.data], ['--adapter', input.adapter], ['config', o.config]] as const) {
    if (p !== undefined && !existsSync(p)) throw new UserError(`${flag} ${p}: no such file or folder`);
  }
  const start = Date.now();
  let r: DefenseOutcome;
  if (def.kind === 'weights') {
    if (o.config !== undefined) throw new UserError(`defense ${name} takes --param key=value, not a config file`);
    if (o.resume) throw new UserError(`defense ${name} has nothing to resume (it does not train); run it again`);
    for (const [k, flag] of [['model', '--model'], ['data', '--data'], ['out', '--out']] as const) if (input[k] === undefined) throw new UserError(`${flag} is required`);
    const strings = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
    const params: Params = defenseParams(def, strings);
    checkOutDir(resolve(input.out as string), Boolean(o.force));
    r = await def.run({ ...(input as DefenseInput), seed: input.seed ?? 0, out: resolve(input.out as string) }, params);
  } else {
    if (o.config === undefined) for (const [k, flag] of [['model', '--model'], ['data', '--data'], ['out', '--out']] as const) if (input[k] === undefined) throw new UserError(`${flag} is required (or give a CONFIG.yaml)`);
    const { settingsOf } = await import('./tune.js');
    r = await def.run({ file: o.config, settings: { ...settingsOf(input), ...raw } }, { resume: o.resume, force: o.force });
  }
  const seconds = (Date.now() - start) / 1000;
  const record: DefenseRecord = {
    schema: 'backdoor-lab/defense',
    version: 1,
    defense: name,
    params: { ...raw },
    config_file: o.config === undefined ? null : resolve(o.config),
    chosen: r.chosen,
    model: r.inputs.model,
    adapter: r.inputs.adapter,
    data: { paths: r.inputs.data, ...r.data },
    output: { kind: r.kind, path: r.output_dir, base_model: r.kind === 'adapter' ? r.inputs.model : null },
    validation: r.validation,
    cost: { clean_samples: r.data.samples, steps: r.cost.steps, seconds, tokens: r.cost.tokens, ...(r.cost.calibration_samples !== undefined ? { calibration_samples: r.cost.calibration_samples } : {}) },
    training: r.training ?? null,
    notes: r.notes,
    seed: r.seed,
    created: new Date().toISOString(),
  };
  writeJsonAtomic(join(r.output_dir, RECORD_FILE), record);
  return record;
}
