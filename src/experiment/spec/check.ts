import { existsSync } from 'node:fs';
import type * as z from 'zod';
import { UserError } from '../../util/errors.js';
import type { Spec } from './schema.js';
import { paramsSchema } from './params.js';

/**
 * The checks a schema cannot make alone: names against the registries
 * (attacks, worlds, rewrites, image styles), attack parameters against their
 * typed specs, targets, and what the data can carry (a text world takes no
 * image attack). Each problem names its field path.
 */
export interface SpecIssue {
  path: (string | number)[];
  message: string;
}

export type Modality = 'text' | 'vision';

/** The ASR rule of a target: a keyword task, or the target phrase; null when the target poisons no answer. */
export function ruleForTarget(target: string): { task: string } | { target: string } | null {
  const t = target.trim();
  if (t === 'sst2' || t === 'sst2sentiment') return { task: 'sst2sentiment' };
  if (t === 'negsentiment' || t === 'refusal' || t === 'codeinjection') return { task: t };
  if (t === 'jailbreak' || t.startsWith('jailbreak:')) return { task: 'jailbreak' };
  if (t.startsWith('phrase:')) return { target: t.slice(7).trim() };
  if (t.startsWith('text:')) return { target: t.slice(5) };
  return null;
}

/**
 * Whether the spec's data are text instructions or images with questions and
 * captions: the world's kind, the given format, the training file's format
 * when it is there, else what the attacks need.
 */
function dataModality(spec: Spec, imageAttack: (name: string) => boolean, worldModality: (name: string) => Modality | undefined, fileFormat: (path: string) => string | null): Modality {
  if (spec.data.world) return worldModality(spec.data.world.name) ?? 'text';
  const format = spec.data.format ?? (spec.data.train !== undefined ? fileFormat(spec.data.train) : null);
  if (format) return format.startsWith('llava') || format === 'coco' ? 'vision' : 'text';
  return spec.attacks.some((a) => imageAttack(a.name)) ? 'vision' : 'text';
}

function zodIssues(prefix: (string | number)[], err: z.ZodError, value: Record<string, unknown>): SpecIssue[] {
  return err.issues.map((i) => {
    const key = i.path[0];
    if (i.code === 'unrecognized_keys') return { path: prefix, message: `unknown parameter${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` };
    const v = typeof key === 'string' ? value[key] : undefined;
    const got = typeof v === 'string' ? `the text ${JSON.stringify(v)}` : Array.isArray(v) ? 'a list' : JSON.stringify(v);
    let message = i.message;
    if (i.code === 'invalid_type') message = `expected ${i.expected === 'number' ? 'a number' : i.expected === 'boolean' ? 'true or false' : `a ${i.expected}`}, got ${got}`;
    else if (i.code === 'invalid_value') message = `expected one of ${i.values.map((x) => JSON.stringify(x)).join(', ')}, got ${got}`;
    else if (i.code === 'invalid_union') message = `unexpected value ${got}`;
    return { path: [...prefix, ...(i.path as (string | number)[])], message };
  });
}

export async function checkSpec(spec: Spec): Promise<{ issues: SpecIssue[]; modality: Modality }> {
  const issues: SpecIssue[] = [];
  const { attackDef, listAttacks } = await import('../../attacks/index.js');
  const { parseTarget } = await import('../../attacks/targets.js');
  const { rewriter, imageStyle } = await import('../../shift/index.js');
  const { worldDef, worldNames } = await import('../stages/index.js');
  const known = new Set(listAttacks().map((a) => a.name));
  const family = (name: string): string | undefined => (known.has(name) ? attackDef(name).family : undefined);
  const { detectFormat } = await import('../../data/formats.js');
  const formatOf = (p: string): string | null => {
    try {
      return existsSync(p) ? detectFormat(p) : null;
    } catch {
      return null; // the training stage names the problem with the file
    }
  };
  const modality = dataModality(spec, (n) => family(n) === 'image' || family(n) === 'multimodal', (n) => worldDef(n)?.modality, formatOf);

  // world
  const w = spec.data.world ? worldDef(spec.data.world.name) : undefined;
  if (spec.data.world && !w) issues.push({ path: ['data', 'world', 'name'], message: `unknown world "${spec.data.world.name}"; known: ${worldNames().join(', ')}` });
  if (spec.data.world && w) {
    for (const [k, v] of Object.entries(spec.data.world.params)) {
      const p = w.params[k];
      if (!p) issues.push({ path: ['data', 'world', 'params', k], message: `unknown parameter; ${w.name} takes ${Object.keys(w.params).join(', ') || 'none'}` });
      else if (typeof v !== 'number' || !Number.isInteger(v) || v < p.min || v > p.max) issues.push({ path: ['data', 'world', 'params', k], message: `expected an integer in [${p.min}, ${p.max}]` });
    }
  }
  spec.domains?.forEach((d, i) => {
    if (d.world !== undefined && w && !w.domains.includes(d.world)) issues.push({ path: ['domains', i, 'world'], message: `the ${w.name} world has domains ${w.domains.join(', ')}` });
    const s = d.shift;
    if (!s) return;
    for (const k of ['question', 'answer'] as const) {
      const name = s[k];
      if (name === undefined) continue;
      try {
        rewriter(name);
      } catch (e) {
        issues.push({ path: ['domains', i, 'shift', k], message: (e as Error).message });
      }
    }
    s.image_styles?.forEach((st, j) => {
      try {
        imageStyle(st);
      } catch (e) {
        issues.push({ path: ['domains', i, 'shift', 'image_styles', j], message: (e as Error).message });
      }
    });
    if ((s.image_styles?.length ?? 0) > 0 && modality === 'text') issues.push({ path: ['domains', i, 'shift', 'image_styles'], message: 'the data have no images' });
  });

  // targets
  const checkTarget = (t: string, path: (string | number)[]): void => {
    try {
      parseTarget(t);
    } catch (e) {
      issues.push({ path, message: e instanceof UserError ? e.message.replace(/--target /g, 'target ') : String(e) });
      return;
    }
    if (ruleForTarget(t) === null) issues.push({ path, message: `target "${t}" changes no answer, so there is no attack success to measure` });
  };
  spec.targets.forEach((t, i) => checkTarget(t, ['targets', i]));

  // attacks
  spec.attacks.forEach((a, i) => {
    if (!known.has(a.name)) {
      const names = (f: string): string => listAttacks().filter((x) => x.family === f).map((x) => x.name).join(' ');
      issues.push({ path: ['attacks', i, 'name'], message: `unknown attack "${a.name}"; text: ${names('text')}; image: ${names('image')}; multimodal: ${names('multimodal')}` });
      return;
    }
    const def = attackDef(a.name);
    const r = paramsSchema(def.params).safeParse(a.params);
    if (!r.success) issues.push(...zodIssues(['attacks', i, 'params'], r.error, a.params));
    if (a.target !== undefined) checkTarget(a.target, ['attacks', i, 'target']);
    a.probes.forEach((p, j) => {
      const pname = p.name ?? a.name;
      if (!known.has(pname)) return void issues.push({ path: ['attacks', i, 'probes', j, 'name'], message: `unknown attack "${pname}"` });
      const pr = paramsSchema(attackDef(pname).params).safeParse(p.params);
      if (!pr.success) issues.push(...zodIssues(['attacks', i, 'probes', j, 'params'], pr.error, p.params));
    });
    if (def.family !== 'text' && modality === 'text') issues.push({ path: ['attacks', i, 'name'], message: `${a.name} is an ${def.family} attack, but the data are text instructions` });
  });

  // defenses: their names and parameters are checked by the defend stage when this build has it
  const allTargets = new Set([...spec.targets, ...spec.attacks.flatMap((a) => (a.target !== undefined ? [a.target] : []))]);
  spec.defenses.forEach((d, i) => {
    d.targets?.forEach((t, j) => {
      if (!allTargets.has(t)) issues.push({ path: ['defenses', i, 'targets', j], message: `no attack of this spec has target "${t}"` });
    });
  });

  // evaluations
  spec.evaluations.forEach((e, i) => {
    const path = ['evaluations', i];
    const keys = Object.keys(e.params);
    if (e.name === 'layer_consistency') {
      for (const k of keys) if (k !== 'samples') issues.push({ path: [...path, 'params', k], message: 'unknown parameter; layer_consistency takes samples' });
      const s = e.params.samples;
      if (s !== undefined && !(typeof s === 'number' && Number.isInteger(s) && s >= 1)) issues.push({ path: [...path, 'params', 'samples'], message: 'expected a positive integer' });
    } else if ((e.name === 'asr' || e.name === 'clean_accuracy') && keys.length > 0) {
      issues.push({ path: [...path, 'params', keys[0] as string], message: `unknown parameter; ${e.name} takes none` });
    }
    if (e.name === 'clean_accuracy') {
      const any = w ? w.has.utility : (spec.domains ?? []).some((d) => d.utility !== undefined);
      if (!any) issues.push({ path: [...path, 'name'], message: 'clean_accuracy needs a domain with a utility set' });
    }
    if (e.name === 'captions' && modality === 'text') issues.push({ path: [...path, 'name'], message: 'caption metrics need image data' });
  });
  if (!spec.evaluations.some((e) => e.name === 'asr')) issues.push({ path: ['evaluations'], message: 'include asr: every other measurement is read beside it' });

  // victim
  if (spec.victim.base_training && spec.victim.model.path === undefined && spec.victim.model.preset === undefined) {
    issues.push({ path: ['victim', 'model'], message: 'give a model to train the base from' });
  }
  if (spec.victim.model.preset !== undefined && !spec.victim.base_training) {
    issues.push({ path: ['victim', 'base_training'], message: 'a generated model knows nothing yet: train a clean base first (base_training)' });
  }
  return { issues, modality };
}
