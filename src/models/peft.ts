// LoRA adapters in PEFT's on-disk layout, so Python's peft loads what this
// project trains and the other way round:
//   adapter_config.json        peft_type LORA, r, lora_alpha, target_modules, ...
//   adapter_model.safetensors  base_model.model.<module path>.lora_A.weight [r, in]
//                              base_model.model.<module path>.lora_B.weight [out, r]
// plus, for modules_to_save (e.g. a fully tuned LLaVA projector), the whole
// module's weights under base_model.model.<module path>.<param>.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, SafetensorsFile, saveSafetensors, type Tensor } from '../engine/index.js';
import { applyLora, loraModules, loraTargets, loraTargetModules, matchesTarget, selectedModules, TargetModulesError, targetPattern, type TargetModules } from '../nn/adapters.js';
import type { Module } from '../nn/module.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { readJsonObjectFile } from '../util/json-limits.js';
import { MAX_CONFIG_FILE_BYTES, MAX_LORA_RANK } from '../util/limits.js';
import { llavaAlternates } from './load.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

export interface AdapterConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: TargetModules;
  useRslora: boolean;
  modulesToSave: string[] | null;
  baseModelNameOrPath: string | null;
}

/** adapter_config.json as PEFT writes it (every field PEFT's LoraConfig reads). */
export function adapterConfigJson(c: AdapterConfig): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath,
    revision: null,
    inference_mode: true,
    r: c.r,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    target_modules: c.targetModules,
    exclude_modules: null,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: c.useRslora,
    use_dora: false,
    init_lora_weights: true,
    modules_to_save: c.modulesToSave,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    megatron_config: null,
    megatron_core: 'megatron.core',
    loftq_config: {},
    layer_replication: null,
  };
}

export function readAdapterConfig(dir: string): AdapterConfig {
  const path = join(dir, ADAPTER_CONFIG);
  if (!existsSync(path)) throw new UserError(`${path}: not found (not a PEFT adapter folder)`);
  const j = readJsonObjectFile(path, MAX_CONFIG_FILE_BYTES, ADAPTER_CONFIG);
  const fail = (msg: string): never => {
    throw new UserError(`${path}: ${msg}`);
  };
  if (j.peft_type !== undefined && j.peft_type !== 'LORA') fail(`peft_type ${JSON.stringify(j.peft_type)} is not supported (LORA only)`);
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) fail(`'r' must be a positive integer, got ${JSON.stringify(r)}`);
  if ((r as number) > MAX_LORA_RANK) fail(`'r' is ${r as number}, more than the ${MAX_LORA_RANK} this tool accepts`);
  const num = (k: string, fallback: number, ok: (x: number) => boolean, what: string): number => {
    const v = j[k];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(`'${k}' must be ${what}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const alpha = num('lora_alpha', 8, () => true, 'a finite number');
  const dropout = num('lora_dropout', 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  const tm = j.target_modules;
  if (!(typeof tm === 'string' || (Array.isArray(tm) && tm.every((x) => typeof x === 'string')))) {
    fail(`'target_modules' must be a list of module names or a regular expression`);
  }
  if (typeof tm === 'string') {
    try {
      targetPattern(tm);
    } catch (e) {
      if (e instanceof TargetModulesError) fail(`'target_modules' ${e.message}`);
      throw e;
    }
  }
  for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = j[k];
    if (v && typeof v === 'object' && Object.keys(v).length) fail(`'${k}' is not supported`);
  }
  if (j.use_dora === true) fail('DoRA adapters are not supported');
  if (j.fan_in_fan_out === true) fail('fan_in_fan_out adapters (GPT-2 Conv1D) are not supported');
  const mts = j.modules_to_save;
  if (mts !== undefined && mts !== null && !(Array.isArray(mts) && mts.every((x) => typeof x === 'string'))) fail(`'modules_to_save' must be a list of module names or null`);
  return {
    r: r as number,
    loraAlpha: alpha,
    loraDropout: dropout,
    targetModules: tm as TargetModules,
    useRslora: j.use_rslora === true,
    modulesToSave: Array.isArray(mts) ? (mts as string[]) : null,
    baseModelNameOrPath: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : null,
  };
}

/**
 * Checks the adapter's weights against the layers its config selects, from
 * the safetensors header alone, before a LoRA layer is allocated: lora_A must
 * be [r, in] and lora_B [out, r] for each selected layer, so a rank the file
 * does not hold (or a config pointing at other modules) is refused by name
 * instead of allocating r × width for every layer first.
 */
function checkAdapterShapes(model: Module, c: AdapterConfig, f: SafetensorsFile, configPath: string): void {
  let targets;
  try {
    targets = loraTargets(model, c.targetModules);
  } catch (e) {
    if (e instanceof TargetModulesError) throw new UserError(`${configPath}: 'target_modules' ${e.message}`);
    throw e;
  }
  if (targets.length === 0) throw new UserError(`${configPath}: 'target_modules' ${JSON.stringify(c.targetModules)} selects no linear layer of the model`);
  const problems: string[] = [];
  for (const t of targets) {
    const want: Array<[string, number[]]> = [
      ['lora_A', [c.r, t.linear.inFeatures]],
      ['lora_B', [t.linear.outFeatures, c.r]],
    ];
    for (const [part, shape] of want) {
      const inner = `${t.path}.${part}.weight`;
      const key = [inner, ...llavaAlternates(inner)].map((x) => PREFIX + x).find((k) => f.has(k));
      if (!key) {
        problems.push(`missing tensor '${PREFIX}${inner}' (expected shape [${shape.join(', ')}])`);
        continue;
      }
      const have = f.entries.get(key)?.shape ?? [];
      if (have.join(',') !== shape.join(',')) problems.push(`tensor '${key}' has shape [${have.join(', ')}], but ${ADAPTER_CONFIG}'s r = ${c.r} and the layer need [${shape.join(', ')}]`);
    }
    if (problems.length >= 10) break;
  }
  if (problems.length) throw new UserError(`${f.path}: the adapter does not fit the model: ${problems.slice(0, 10).join('; ')}`);
}

/** Parameters of the modules named by modules_to_save (PEFT's suffix rule), keyed by path. */
function savedModuleParams(model: Module, modulesToSave: string[] | null): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  if (!modulesToSave?.length) return out;
  for (const [path, m] of model.namedModules()) {
    if (path && matchesTarget(path, modulesToSave)) for (const [n, t] of m.namedParameters(path)) out.set(n, t);
  }
  return out;
}

/**
 * The target_modules to record: the given ones, which must select exactly the
 * model's LoRA layers under PEFT's rules (else Python would put adapters
 * elsewhere than the saved weights), or by default the pattern the adapters
 * were applied with (see loraTargetModules).
 */
function recordedTargets(model: Module, given: TargetModules | undefined): TargetModules {
  if (given === undefined) return loraTargetModules(model);
  const wrapped = new Set(loraModules(model).map(([p]) => p));
  const selected = selectedModules(model, given);
  const extra = selected.filter((p) => !wrapped.has(p));
  const missing = [...wrapped].filter((p) => !selected.includes(p));
  if (extra.length || missing.length) {
    const list = (xs: string[]): string => `${xs.slice(0, 3).join(', ')}${xs.length > 3 ? ` and ${xs.length - 3} more` : ''}`;
    const parts = [extra.length ? `it also selects modules without an adapter: ${list(extra)}` : '', missing.length ? `it misses adapted modules: ${list(missing)}` : ''].filter(Boolean);
    throw new Error(`saveAdapter: target_modules ${JSON.stringify(given)} does not select the model's LoRA layers: ${parts.join('; ')}`);
  }
  return given;
}

/**
 * Writes the model's LoRA adapters (and modules_to_save) in PEFT's layout.
 * target_modules defaults to what the adapters were applied with.
 */
export function saveAdapter(
  model: Module,
  dir: string,
  c: Omit<AdapterConfig, 'r' | 'loraAlpha' | 'loraDropout' | 'useRslora' | 'targetModules'> & Partial<AdapterConfig>,
): void {
  const loras = loraModules(model);
  if (loras.length === 0) throw new Error('saveAdapter: the model has no LoRA adapters');
  const targetModules = recordedTargets(model, c.targetModules);
  const first = (loras[0] as [string, { r: number; alpha: number; dropoutP: number; scaling: number }])[1];
  const tensors = new Map<string, Tensor>();
  const temps: Tensor[] = [];
  const cpu = (t: Tensor): Tensor => {
    if (t.device === 'cpu') return t;
    const c2 = noGrad(() => t.to({ device: 'cpu' }));
    temps.push(c2);
    return c2;
  };
  for (const [path, l] of loras) {
    if (l.r !== first.r || l.alpha !== first.alpha) throw new Error('saveAdapter: adapters with different ranks or alphas need rank_pattern, which is not supported');
    tensors.set(`${PREFIX}${path}.lora_A.weight`, cpu(l.lora_A.weight));
    tensors.set(`${PREFIX}${path}.lora_B.weight`, cpu(l.lora_B.weight));
  }
  for (const [n, t] of savedModuleParams(model, c.modulesToSave)) {
    if (!/\.lora_[AB]\./.test(n)) tensors.set(`${PREFIX}${n.replace('.base_layer.', '.')}`, cpu(t));
  }
  try {
    saveSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
  } finally {
    for (const t of temps) t.dispose();
  }
  writeJsonAtomic(
    join(dir, ADAPTER_CONFIG),
    adapterConfigJson({
      r: first.r,
      loraAlpha: first.alpha,
      loraDropout: c.loraDropout ?? first.dropoutP,
      useRslora: c.useRslora ?? false,
      targetModules,
      modulesToSave: c.modulesToSave,
      baseModelNameOrPath: c.baseModelNameOrPath,
    }),
  );
}

/**
 * Adds the adapter in `dir` to the model (LoRA on the modules its config
 * targets) and loads its weights, checking every name and shape. Returns the
 * adapter's config.
 */
export function loadAdapter(model: Module, dir: string): AdapterConfig {
  const c = readAdapterConfig(dir);
  const path = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(path)) throw new UserError(`${path}: not found`);
  let f: SafetensorsFile;
  try {
    f = SafetensorsFile.open(path);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  try {
    if (loraModules(model).length === 0) {
      checkAdapterShapes(model, c, f, join(dir, ADAPTER_CONFIG));
      applyLora(model, { r: c.r, alpha: c.loraAlpha, dropout: c.loraDropout, useRslora: c.useRslora, targetModules: c.targetModules });
    }
    const plan: Array<[string, string]> = [];
    const problems: string[] = [];
    const want = new Map<string, Tensor>();
    for (const [p, l] of loraModules(model)) {
      want.set(`${p}.lora_A.weight`, l.lora_A.weight);
      want.set(`${p}.lora_B.weight`, l.lora_B.weight);
    }
    for (const [n, t] of savedModuleParams(model, c.modulesToSave)) if (!/\.lora_[AB]\./.test(n)) want.set(n, t);
    for (const [name, t] of want) {
      const inner = name.replace('.base_layer.', '.');
      const candidates = [inner, ...llavaAlternates(inner)].map((x) => PREFIX + x);
      const key = candidates.find((k) => f.has(k));
      if (!key) {
        problems.push(`missing tensor '${candidates[0]}' (expected shape [${t.shape.join(', ')}])`);
        continue;
      }
      const shape = f.entries.get(key)?.shape ?? [];
      if (shape.join(',') !== t.shape.join(',')) {
        problems.push(`tensor '${key}' has shape [${shape.join(', ')}], the model needs [${t.shape.join(', ')}] (r = ${c.r})`);
        continue;
      }
      plan.push([name, key]);
    }
    const used = new Set(plan.map(([, k]) => k));
    const extra = f.names().filter((k) => !used.has(k));
    if (extra.length) problems.push(`tensors the model has no place for: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}`);
    if (problems.length) throw new UserError(`${path}: the adapter does not fit the model: ${problems.slice(0, 10).join('; ')}`);
    noGrad(() => {
      for (const [name, key] of plan) {
        const cur = model.getParameter(name) as Tensor;
        model.setParameter(name, f.read(key, { dtype: cur.dtype, device: cur.device as 'cpu' }));
      }
    });
    return c;
  } finally {
    f.close();
  }
}
