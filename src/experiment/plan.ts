import { dirname } from 'node:path';
import { Rng } from '../util/rng.js';
import { canonicalJson } from './cache.js';
import type { LoadedSpec } from './spec/load.js';
import type { AttackSpec, Spec } from './spec/schema.js';
import { ruleForTarget, type Modality } from './spec/check.js';
import { paramStrings } from './spec/params.js';
import type { TrainingSpec } from './spec/training.js';
import { WORLD_FILES, worldDef } from './stages/world.js';

/**
 * The grid of a spec expanded into a graph of stages, in an order where every
 * stage comes after its inputs. Stages with the same kind, params and inputs
 * are one stage, which is where the sharing comes from: the clean base is
 * trained once per seed, an attack's triggered test inputs are made once per
 * domain and seed whatever the rate, a model's answers to the clean inputs are
 * generated once for every attack that needs them.
 *
 *   data (world or files) ─ poison(attack, target, rate, seed) ─ train victim ─ defend ─┐
 *   model(seed) ─ train clean base ──────────────┘                                      │
 *   domains ─ shift ─ trigger(attack, domain, seed) ─ generate(model × input set) ─ evaluate
 */
export interface InputRef {
  /** An upstream stage (its whole folder, or one file or sub-folder of it). */
  node?: string;
  file?: string;
  /** A file or folder the spec names, with the field that names it. */
  external?: string;
  field?: string;
}

export interface PlanNode {
  id: string;
  kind: string;
  params: unknown;
  inputs: Record<string, InputRef>;
  /** What the stage does, for kinds this build lacks (the others describe themselves). */
  about?: string;
}

/** A model to evaluate: a full model folder plus, when tuned, the train/defend artifact (adapter or weights). */
export interface ModelRef {
  base: InputRef;
  tuned?: InputRef;
}

export type ModelRole = 'clean' | 'victim' | 'defended';

export interface PlannedModel {
  id: string;
  role: ModelRole;
  seed: number;
  /** The attack entry's label (its registry name unless the spec gives a label). */
  attack: string | null;
  target: string | null;
  rate: number | null;
  defense: string | null;
  /** The stage that trained (or defended) it, for its loss curve and cost. */
  stage: string | null;
  ref: ModelRef;
}

export interface PlannedAttack {
  label: string;
  name: string;
  params: Record<string, string>;
  targets: string[];
  prepoisoned: boolean;
}

export interface PlannedRecord {
  model: string;
  attack: string | null;
  target: string | null;
  domain: string;
  node: string;
}

export interface PlannedTrigger {
  attack: string;
  domain: string;
  seed: number;
  node: string;
}

export interface Plan {
  spec: Spec;
  specFile: string;
  specSha256: string;
  modality: Modality;
  nodes: PlanNode[];
  domains: Array<{ name: string; role: 'attacker' | 'user'; description: string }>;
  attacks: PlannedAttack[];
  models: PlannedModel[];
  asr: PlannedRecord[];
  accuracy: PlannedRecord[];
  consistency: PlannedRecord[];
  detection: PlannedRecord[];
  captions: PlannedRecord[];
  triggers: PlannedTrigger[];
}

interface DomainData {
  name: string;
  test: InputRef;
  utility?: InputRef;
  images?: InputRef;
}

class Builder {
  readonly nodes: PlanNode[] = [];
  private readonly bySignature = new Map<string, string>();
  private readonly ids = new Set<string>();

  /** Adds a stage (or finds the identical one) and returns its id. */
  add(kind: string, name: string, params: unknown, inputs: Record<string, InputRef | undefined>, about?: string): string {
    const clean: Record<string, InputRef> = {};
    for (const [k, v] of Object.entries(inputs)) if (v !== undefined) clean[k] = v;
    const sig = canonicalJson({ kind, params, inputs: clean });
    const known = this.bySignature.get(sig);
    if (known) return known;
    let id = `${kind}/${name}`;
    for (let i = 2; this.ids.has(id); i++) id = `${kind}/${name}#${i}`;
    this.ids.add(id);
    this.bySignature.set(sig, id);
    this.nodes.push({ id, kind, params, inputs: clean, ...(about ? { about } : {}) });
    return id;
  }
}

const ext = (path: string, field: string): InputRef => ({ external: path, field });
const fileOf = (node: string, file: string): InputRef => ({ node, file });

/** A seed for one purpose, derived from the run's seed (different domains get different trigger positions). */
function derivedSeed(seed: number, ...parts: string[]): number {
  return new Rng(seed, ...parts).int(2 ** 31);
}

function rateName(r: number): string {
  return `r${r}`;
}

export function buildPlan(loaded: LoadedSpec): Plan {
  const spec = loaded.spec;
  const modality = loaded.modality;
  const b = new Builder();
  const vision = modality === 'vision';

  // ---- data and domains
  let train: InputRef | undefined;
  // (no clean training set when every attack brings its own poisoned files)
  let trainImages: InputRef | undefined;
  let defense: InputRef | undefined;
  const domains: DomainData[] = [];
  const domainSpecs = spec.domains ?? [];
  let worldId: string | null = null;
  if (spec.data.world) {
    worldId = b.add('world', spec.data.world.name, { name: spec.data.world.name, params: spec.data.world.params }, {});
    train = fileOf(worldId, WORLD_FILES.train);
    defense = fileOf(worldId, WORLD_FILES.defense);
  } else {
    if (spec.data.train !== undefined) {
      train = ext(spec.data.train, 'data.train');
      if (vision) trainImages = ext(spec.data.image_root ?? dirname(spec.data.train), spec.data.image_root ? 'data.image_root' : 'data.train');
    }
    if (spec.data.defense) defense = ext(spec.data.defense, 'data.defense');
  }
  const listed = domainSpecs.length > 0 ? domainSpecs : worldDomains(spec);
  listed.forEach((d, i) => {
    const field = `domains[${i}]`;
    if (d.world !== undefined && worldId) {
      domains.push({ name: d.name, test: fileOf(worldId, WORLD_FILES.test(d.world)), utility: fileOf(worldId, WORLD_FILES.utility(d.world)) });
    } else if (d.test !== undefined) {
      domains.push({
        name: d.name,
        test: ext(d.test, `${field}.test`),
        ...(d.utility ? { utility: ext(d.utility, `${field}.utility`) } : {}),
        ...(vision ? { images: ext(d.image_root ?? dirname(d.test), d.image_root ? `${field}.image_root` : `${field}.test`) } : {}),
      });
    } else {
      const from = domains.find((x) => x.name === d.from) as DomainData;
      const s = d.shift!;
      const params = { question: s.question ?? null, answer: s.answer ?? null, image_styles: s.image_styles ?? [], seed: 0 };
      const shifted = (src: InputRef, what: string): string => b.add('shift', `${d.name}/${what}`, params, { data: src, images: from.images });
      const test = shifted(from.test, 'test');
      domains.push({
        name: d.name,
        test: fileOf(test, 'data.json'),
        ...(from.utility ? { utility: fileOf(shifted(from.utility, 'utility'), 'data.json') } : {}),
        ...(vision ? { images: fileOf(test, 'images') } : {}),
      });
    }
  });
  const attackerDomain = domains[0] as DomainData;

  // ---- attacks
  const attacks: PlannedAttack[] = spec.attacks.map((a: AttackSpec) => ({
    label: a.label ?? a.name,
    name: a.name,
    params: paramStrings(a.params),
    targets: a.target !== undefined ? [a.target] : spec.targets,
    prepoisoned: a.poisoned_train !== undefined,
  }));
  const evaluations = new Set(spec.evaluations.map((e) => e.name));
  const layerSamples = (spec.evaluations.find((e) => e.name === 'layer_consistency')?.params.samples as number | undefined) ?? 16;
  const gen = { modality, max_new_tokens: spec.generation.max_new_tokens, batch_size: spec.generation.batch_size };

  const models: PlannedModel[] = [];
  const asr: PlannedRecord[] = [];
  const accuracy: PlannedRecord[] = [];
  const consistency: PlannedRecord[] = [];
  const detection: PlannedRecord[] = [];
  const captions: PlannedRecord[] = [];
  const triggers: PlannedTrigger[] = [];

  for (const seed of spec.seeds) {
    // ---- the clean model
    let base: InputRef;
    let cleanStage: string | null = null;
    if (spec.victim.model.path !== undefined) {
      base = ext(spec.victim.model.path, 'victim.model.path');
    } else {
      base = { node: b.add('model', `${spec.victim.model.arch}-${spec.victim.model.preset}/s${seed}`, { arch: spec.victim.model.arch, preset: spec.victim.model.preset, seed }, {}) };
    }
    if (spec.victim.base_training) {
      cleanStage = b.add('train', `base/s${seed}`, trainParams('base', modality, seed, spec.victim.base_training), { base, data0: train });
      base = { node: cleanStage };
    }
    const clean: PlannedModel = { id: `clean/s${seed}`, role: 'clean', seed, attack: null, target: null, rate: null, defense: null, stage: cleanStage, ref: { base } };
    models.push(clean);

    // ---- triggered test inputs, per attack and domain
    const trig = new Map<string, string>();
    for (const a of attacks) {
      for (const d of domains) {
        const node = b.add('trigger', `${a.label}/${d.name}/s${seed}`, { attack: a.name, params: a.params, seed: derivedSeed(seed, 'trigger', d.name) }, { data: d.test, images: d.images });
        trig.set(`${a.label}\u0000${d.name}`, node);
        triggers.push({ attack: a.label, domain: d.name, seed, node });
      }
    }
    const triggered = (attack: string, domain: string): InputRef => fileOf(trig.get(`${attack}\u0000${domain}`) as string, 'data.json');

    // ---- victims and defended victims
    const measured: Array<{ model: PlannedModel; attacks: string[] }> = [];
    if (spec.controls.clean_model) measured.push({ model: clean, attacks: attacks.map((a) => a.label) });
    else measured.push({ model: clean, attacks: [] });
    for (const a of attacks) {
      const entry = spec.attacks.find((x) => (x.label ?? x.name) === a.label) as AttackSpec;
      for (const target of a.targets) {
        const rates: Array<number | null> = a.prepoisoned ? [null] : spec.rates;
        for (const rate of rates) {
          const tag = `${a.label}/${target}${rate === null ? '' : `/${rateName(rate)}`}/s${seed}`;
          let data: Record<string, InputRef>;
          if (rate === null) {
            const files = ([] as string[]).concat(entry.poisoned_train as string | string[]);
            data = Object.fromEntries(files.map((f, i) => [`data${i}`, ext(f.replace(/\{attack\}/g, a.name).replace(/\{target\}/g, target), `attacks[${spec.attacks.indexOf(entry)}].poisoned_train`)]));
          } else {
            const p = b.add('poison', tag, { attack: a.name, params: a.params, target, rate, seed }, { data: train, images: trainImages });
            data = { data0: fileOf(p, 'data.json') };
          }
          const trained = b.add('train', `victim/${tag}`, trainParams('victim', modality, seed, spec.victim.training), { base, ...data });
          const victim: PlannedModel = { id: `victim/${tag}`, role: 'victim', seed, attack: a.label, target, rate, defense: null, stage: trained, ref: { base, tuned: { node: trained } } };
          models.push(victim);
          measured.push({ model: victim, attacks: [a.label] });
          for (const d of spec.defenses) {
            if (d.targets && !d.targets.includes(target)) continue;
            const label = d.label ?? d.name;
            const defended = b.add('defend', `${label}/${tag}`, { name: d.name, params: paramStrings(d.params), seed, modality }, { base, tuned: { node: trained }, clean: defense, validation: spec.data.validation ? ext(spec.data.validation, 'data.validation') : undefined }, `defend the victim with ${d.name}${Object.keys(d.params).length ? ` (${Object.entries(d.params).map(([k, v]) => `${k} ${String(v)}`).join(', ')})` : ''}`);
            const m: PlannedModel = { id: `${label}/${tag}`, role: 'defended', seed, attack: a.label, target, rate, defense: label, stage: defended, ref: { base, tuned: { node: defended } } };
            models.push(m);
            measured.push({ model: m, attacks: [a.label] });
          }
        }
      }
    }

    // ---- measurements
    for (const { model: m, attacks: labels } of measured) {
      const mi = { base: m.ref.base, tuned: m.ref.tuned };
      for (const d of domains) {
        const cleanOut = b.add('generate', `${m.id}/${d.name}/clean`, gen, { ...mi, data: d.test });
        for (const label of labels) {
          const a = attacks.find((x) => x.label === label) as PlannedAttack;
          const trigOut = b.add('generate', `${m.id}/${d.name}/${label}`, gen, { ...mi, data: triggered(label, d.name) });
          // a clean model has no target of its own: it is scored against each target of the attack
          for (const target of m.target !== null ? [m.target] : a.targets) {
            const ev = b.add('evaluate', `${m.id}/${d.name}/${label}/${target}`, { metric: 'asr', rule: ruleForTarget(target) }, { triggered: { node: trigOut }, clean: { node: cleanOut } });
            asr.push({ model: m.id, attack: label, target, domain: d.name, node: ev });
          }
        }
        if (evaluations.has('clean_accuracy') && d.utility) {
          const out = b.add('generate', `${m.id}/${d.name}/utility`, gen, { ...mi, data: d.utility });
          const ev = b.add('evaluate', `${m.id}/${d.name}/accuracy`, { metric: 'exact_match' }, { outputs: { node: out }, references: d.utility });
          accuracy.push({ model: m.id, attack: null, target: null, domain: d.name, node: ev });
        }
        if (evaluations.has('captions')) {
          const ev = b.add('captions', `${m.id}/${d.name}`, {}, { outputs: { node: cleanOut }, references: d.test }, 'caption metrics of the clean outputs (BLEU, CIDEr, ROUGE-L)');
          captions.push({ model: m.id, attack: null, target: null, domain: d.name, node: ev });
        }
      }
      for (const label of labels) {
        if (evaluations.has('layer_consistency')) {
          const node = b.add('consistency', `${m.id}/${label}`, { modality, samples: layerSamples }, { ...mi, clean: attackerDomain.test, triggered: triggered(label, attackerDomain.name) });
          consistency.push({ model: m.id, attack: label, target: m.target, domain: attackerDomain.name, node });
        }
        if (evaluations.has('detection') && m.role !== 'clean') {
          const node = b.add('detect', `${m.id}/${label}`, { seed, modality }, { ...mi, validation: spec.data.validation ? ext(spec.data.validation, 'data.validation') : defense, clean: attackerDomain.test, triggered: triggered(label, attackerDomain.name) }, 'detect triggered inputs by their layer-consistency profile (AUROC, TPR at a fixed FPR)');
          detection.push({ model: m.id, attack: label, target: m.target, domain: attackerDomain.name, node });
        }
      }
    }
  }

  return {
    spec,
    specFile: loaded.file,
    specSha256: loaded.sha256,
    modality,
    nodes: b.nodes,
    domains: listed.map((d, i) => ({ name: d.name, role: i === 0 ? 'attacker' : 'user', description: d.description ?? describeDomain(d) })),
    attacks,
    models,
    asr,
    accuracy,
    consistency,
    detection,
    captions,
    triggers,
  };
}

function trainParams(role: 'base' | 'victim', modality: Modality, seed: number, training: TrainingSpec): unknown {
  return { role, modality, seed, training };
}

/** The world's own domains (the loader has checked that the world exists). */
function worldDomains(spec: Spec): NonNullable<Spec['domains']> {
  const w = spec.data.world ? worldDef(spec.data.world.name) : undefined;
  return (w?.domains ?? []).map((n) => ({ name: n, world: n }));
}

function describeDomain(d: NonNullable<Spec['domains']>[number]): string {
  if (d.world !== undefined) return `the world's ${d.world} domain`;
  if (d.test !== undefined) return 'test inputs from a file';
  const s = d.shift!;
  return `${d.from}, shifted: ${[s.question && `question ${s.question}`, s.answer && `answer ${s.answer}`, s.image_styles?.length && `image ${s.image_styles.join('+')}`].filter(Boolean).join(', ')}`;
}
