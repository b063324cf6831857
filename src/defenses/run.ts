// Running a defense by name: parameters resolved against its spec, the output
// folder checked, the run timed, and the record written next to what the
// defense wrote (DIR/defense.json, snake_case).
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
  params: Params;
  /** Hyper-parameters chosen on the clean validation split, and the rule. */
  chosen: Record<string, unknown>;
  model: string;
  adapter: string | null;
  data: { path: string } & DefenseOutcome['data'];
  /** What was written: a PEFT adapter for `model`, or a whole model folder. */
  output: { kind: OutputKind; path: string; base_model: string | null };
  validation: Record<string, unknown>;
  cost: { clean_samples: number; steps: number; seconds: number; tokens: number; calibration_samples?: number };
  notes: string[];
  seed: number;
  created: string;
}

function checkOut(dir: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UserError(`--out ${dir}: exists and is not a folder`);
  if (!force && readdirSync(dir).length > 0) throw new UserError(`--out ${dir}: folder is not empty (use --force to write into it)`);
}

/** Runs the named defense and writes its record; returns the record. */
export async function runDefense(name: string, input: DefenseInput, raw: Readonly<Record<string, string>>, o: { force?: boolean } = {}): Promise<DefenseRecord> {
  const def = defenseDef(name);
  const params = defenseParams(name, raw);
  const out = resolve(input.out);
  checkOut(out, Boolean(o.force));
  for (const [flag, p] of [['--model', input.model], ['--data', input.data], ['--adapter', input.adapter]] as const) {
    if (p !== undefined && !existsSync(p)) throw new UserError(`${flag} ${p}: no such file or folder`);
  }
  const start = Date.now();
  const r = await def.run({ ...input, out }, params);
  const seconds = (Date.now() - start) / 1000;
  const record: DefenseRecord = {
    schema: 'backdoor-lab/defense',
    version: 1,
    defense: name,
    params,
    chosen: r.chosen,
    model: resolve(input.model),
    adapter: input.adapter ? resolve(input.adapter) : null,
    data: { path: resolve(input.data), ...r.data },
    output: { kind: r.kind, path: out, base_model: r.kind === 'adapter' ? resolve(input.model) : null },
    validation: r.validation,
    cost: { clean_samples: r.data.samples, steps: r.cost.steps, seconds, tokens: r.cost.tokens, ...(r.cost.calibration_samples !== undefined ? { calibration_samples: r.cost.calibration_samples } : {}) },
    notes: r.notes,
    seed: input.seed,
    created: new Date().toISOString(),
  };
  writeJsonAtomic(join(out, RECORD_FILE), record);
  return record;
}
