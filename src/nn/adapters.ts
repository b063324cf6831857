// Putting LoRA adapters into a model, finding them, and merging them away.
// Module selection follows PEFT's `target_modules` rules, so the same
// adapter_config.json selects the same modules here and in Python:
// a list matches a module whose dotted name equals an entry or ends in
// '.' + entry; a string is a regular expression that must match the whole name.
// A pattern comes from a downloaded adapter_config.json, so it is matched
// under a time limit, and one with an exponential backtracking shape is
// refused before it runs (src/util/regex-hazard.ts).
import { Linear } from './linear.js';
import { LoraLinear, type LoraOptions } from './lora.js';
import { Module } from './module.js';
import { ParamInit } from './init.js';
import { REGEX_TIME_LIMIT_MS } from '../util/limits.js';
import { regexHazard } from '../util/regex-hazard.js';
import { TimeLimitExceeded, withTimeLimit } from '../util/time-limit.js';

export type TargetModules = string[] | string;

/** Every linear layer of a Llama-family decoder block. */
export const DECODER_LINEARS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** The part of a vision-language model (Hugging Face's llava layout) that holds the decoder. */
const LANGUAGE_MODEL = 'language_model';

/** A target_modules value that cannot be used; the message says why (callers add the file). */
export class TargetModulesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetModulesError';
  }
}

const compiled = new Map<string, RegExp>();

/**
 * The whole-name regular expression of a string target_modules, checked: a
 * syntax error, or a shape that can backtrack exponentially (nested
 * quantifiers, a repeated ambiguous alternation), is a TargetModulesError.
 */
export function targetPattern(target: string): RegExp {
  const hit = compiled.get(target);
  if (hit) return hit;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${target})$`);
  } catch (e) {
    throw new TargetModulesError(`${JSON.stringify(target)} is not a valid regular expression (${(e as Error).message.replace(/^Invalid regular expression: /, '')})`);
  }
  const hazard = regexHazard(target);
  if (hazard?.exponential) throw new TargetModulesError(`${JSON.stringify(target)} can take exponential time to match (${hazard.reason}); write it without that`);
  compiled.set(target, re);
  return re;
}

/** The names among `names` that `target` selects (PEFT's rules), a pattern run under a time limit. */
function namesMatching(names: readonly string[], target: TargetModules): Set<string> {
  if (typeof target !== 'string') return new Set(names.filter((name) => target.some((t) => name === t || name.endsWith(`.${t}`))));
  const re = targetPattern(target);
  const ms = REGEX_TIME_LIMIT_MS + names.length;
  try {
    return withTimeLimit(() => new Set(names.filter((n) => re.test(n))), ms);
  } catch (e) {
    if (e instanceof TimeLimitExceeded) throw new TargetModulesError(`${JSON.stringify(target)} took more than ${ms} ms to match ${names.length} module names`);
    throw e;
  }
}

export function matchesTarget(name: string, target: TargetModules): boolean {
  return namesMatching([name], target).has(name);
}

/**
 * The default LoRA target: every linear layer of the decoder's blocks (q, k,
 * v, o, gate, up and down projections), never lm_head or the embeddings.
 * A plain decoder gets PEFT's usual list of names. A model with a
 * `language_model` part (LLaVA) gets a regular expression anchored to it,
 * since the list would also catch the CLIP tower's q/k/v_proj; the pattern
 * matches both the classic (`language_model.model.layers…`) and the
 * transformers ≥ 4.52 (`model.language_model.layers…`) module names, so PEFT
 * selects the same modules under either layout.
 */
export function defaultTargetModules(model: Module): TargetModules {
  const hasLanguageModel = [...model.namedModules()].some(([path]) => path === LANGUAGE_MODEL || path.endsWith(`.${LANGUAGE_MODEL}`));
  return hasLanguageModel ? `.*${LANGUAGE_MODEL}\\..*\\.(${DECODER_LINEARS.join('|')})` : [...DECODER_LINEARS];
}

export interface ApplyLoraOptions extends LoraOptions {
  /** PEFT's target_modules; default: defaultTargetModules(model). */
  targetModules?: TargetModules;
  seed?: number;
}

/** The target_modules each model's adapters were put in with (what saveAdapter records). */
const appliedTargets = new WeakMap<Module, TargetModules[]>();

/**
 * The names of the modules PEFT would select with `target` on this model as
 * Python sees it (LoRA wrappers' insides — base_layer, lora_A, lora_B — are
 * not modules of the unwrapped model, so they are skipped).
 */
export function selectedModules(model: Module, target: TargetModules): string[] {
  const paths: string[] = [];
  const inside = new Set<Module>();
  for (const [path, m] of model.namedModules()) {
    if (inside.has(m)) continue;
    if (m instanceof LoraLinear) for (const [, c] of m.namedModules()) if (c !== m) inside.add(c);
    if (path) paths.push(path);
  }
  const hit = namesMatching(paths, target);
  return paths.filter((p) => hit.has(p));
}

/** A linear layer that target_modules selects for an adapter, with its sizes. */
export interface LoraTarget {
  path: string;
  owner: Module;
  childName: string;
  linear: Linear;
}

/** The (not yet wrapped) linear layers `targetModules` selects, in module order. */
export function loraTargets(model: Module, targetModules: TargetModules): LoraTarget[] {
  const candidates: LoraTarget[] = [];
  for (const [path, m] of model.namedModules()) {
    if (m instanceof LoraLinear) continue;
    for (const [childName, c] of m.namedChildren()) {
      if (c instanceof Linear) candidates.push({ path: path ? `${path}.${childName}` : childName, owner: m, childName, linear: c });
    }
  }
  const hit = namesMatching(
    candidates.map((t) => t.path),
    targetModules,
  );
  return candidates.filter((t) => hit.has(t.path));
}

/**
 * The target_modules that select exactly the model's LoRA layers in PEFT: the
 * pattern applyLora was given when it was called once, else the wrapped
 * modules' full names (a list entry equal to a name selects just that module).
 */
export function loraTargetModules(model: Module): TargetModules {
  const wrapped = loraModules(model).map(([p]) => p);
  const applied = appliedTargets.get(model);
  if (applied?.length === 1) {
    const t = applied[0] as TargetModules;
    if (sameSet(selectedModules(model, t), wrapped)) return t;
  }
  return wrapped;
}

function sameSet(a: string[], b: string[]): boolean {
  const sb = new Set(b);
  return a.length === b.length && a.every((x) => sb.has(x));
}

/**
 * Wraps every matching Linear in a LoraLinear (adapter weights in the base
 * weight's dtype and device, requiring gradients); without targetModules, the
 * decoder's linear layers (defaultTargetModules). Returns the wrapped
 * modules' names; throws when nothing matches, since a silent no-op adapter
 * would train nothing.
 */
export function applyLora(model: Module, o: ApplyLoraOptions): string[] {
  const targetModules = o.targetModules ?? defaultTargetModules(model);
  const targets = loraTargets(model, targetModules);
  if (targets.length === 0) {
    throw new Error(`LoRA: no linear layer matches target_modules ${JSON.stringify(targetModules)}`);
  }
  let seed = o.seed ?? 0;
  for (const { owner, childName, linear: lin } of targets) {
    const w = lin.weight;
    const init = new ParamInit({ seed, dtype: w.dtype, device: w.device as 'cpu' });
    seed += 2;
    const lora = new LoraLinear(lin, o, init);
    // like PEFT's get_peft_model: new adapters train; the base is left as it was (frozen after loading)
    lora.lora_A.weight.requiresGrad_(true);
    lora.lora_B.weight.requiresGrad_(true);
    owner.replaceChild(childName, lora);
  }
  appliedTargets.set(model, [...(appliedTargets.get(model) ?? []), targetModules]);
  return targets.map((t) => t.path);
}

/** The LoRA-wrapped layers with their dotted names. */
export function loraModules(model: Module): Array<[string, LoraLinear]> {
  return [...model.namedModules()].filter((e): e is [string, LoraLinear] => e[1] instanceof LoraLinear);
}

/** Folds every adapter into its base weight and unwraps it; returns how many were merged. */
export function mergeLora(model: Module): number {
  let n = 0;
  for (const [path, m] of [...model.namedModules()]) {
    for (const [childName, c] of [...m.namedChildren()]) {
      if (!(c instanceof LoraLinear)) continue;
      const base = c.merged();
      c.lora_A.dispose();
      c.lora_B.dispose();
      m.replaceChild(childName, base);
      n++;
      void path;
    }
  }
  appliedTargets.delete(model);
  return n;
}

/**
 * A parameter name as a plain (unwrapped) checkpoint writes it: PEFT's
 * `base_layer.` level removed; null for adapter weights.
 */
export function baseParameterName(name: string): string | null {
  if (/\.lora_[AB]\./.test(name)) return null;
  return name.replace('.base_layer.', '.');
}
