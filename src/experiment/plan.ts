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

interface DataRefs {
  /** The clean training set (absent when every attack brings its own poisoned files). */
  train?: InputRef;
  trainImages?: InputRef;
  defense?: InputRef;
  validation?: InputRef;
  domains: DomainData[];
}

/** The expansion of one spec; each method adds one part of the graph. */
class Planner {
  readonly b = new Builder();
  readonly models: PlannedModel[] = [];
  readonly asr: PlannedRecord[] = [];
  readonly accuracy: PlannedRecord[] = [];
  readonly consistency: PlannedRecord[] = [];
  readonly detection: PlannedRecord[] = [];
  readonly captions: PlannedRecord[] = [];
  readonly triggers: PlannedTrigger[] = [];
  readonly attacks: PlannedAttack[];
  readonly data: DataRefs;
  private readonly evaluations: Set<string>;
  private readonly gen: { modality: Modality; max_new_tokens: number; batch_size: number };

  constructor(
    readonly spec: Spec,
    readonly modality: Modality,
    readonly domainSpecs: NonNullable<Spec['domains']>,
  ) {
    this.attacks = spec.attacks.map((a: AttackSpec) => ({
      label: a.label ?? a.name,
      name: a.name,
      params: paramStrings(a.params),
      targets: a.target !== undefined ? [a.target] : spec.targets,
      prepoisoned: a.poisoned_train !== undefined,
    }));
    this.evaluations = new Set(spec.evaluations.map((e) => e.name));
    this.gen = { modality, max_new_tokens: spec.generation.max_new_tokens, batch_size: spec.generation.batch_size };
    this.data = this.planData();
  }

  private get vision(): boolean {
    return this.modality === 'vision';
  }

  /** Training data, the defender's clean set, and each domain's test (and utility) inputs. */
  private planData(): DataRefs {
    const { spec, b } = this;
    const refs: DataRefs = { domains: [] };
    let worldId: string | null = null;
    if (spec.data.world) {
      worldId = b.add('world', spec.data.world.name, { name: spec.data.world.name, params: spec.data.world.params }, {});
      refs.train = fileOf(worldId, WORLD_FILES.train);
      refs.defense = fileOf(worldId, WORLD_FILES.defense);
    } else {
      if (spec.data.train !== undefined) {
        refs.train = ext(spec.data.train, 'data.train');
        if (this.vision) refs.trainImages = ext(spec.data.image_root ?? dirname(spec.data.train), spec.data.image_root ? 'data.image_root' : 'data.train');
      }
      if (spec.data.defense) refs.defense = ext(spec.data.defense, 'data.defense');
    }
    if (spec.data.validation) refs.validation = ext(spec.data.validation, 'data.validation');
    this.domainSpecs.forEach((d, i) => {
      const field = `domains[${i}]`;
      if (d.world !== undefined && worldId) {
        refs.domains.push({ name: d.name, test: fileOf(worldId, WORLD_FILES.test(d.world)), utility: fileOf(worldId, WORLD_FILES.utility(d.world)) });
      } else if (d.test !== undefined) {
        refs.domains.push({
          name: d.name,
          test: ext(d.test, `${field}.test`),
          ...(d.utility ? { utility: ext(d.utility, `${field}.utility`) } : {}),
          ...(this.vision ? { images: ext(d.image_root ?? dirname(d.test), d.image_root ? `${field}.image_root` : `${field}.test`) } : {}),
        });
      } else {
        const from = refs.domains.find((x) => x.name === d.from) as DomainData;
        const s = d.shift!;
        const params = { question: s.question ?? null, answer: s.answer ?? null, image_styles: s.image_styles ?? [], seed: 0 };
        const shifted = (src: InputRef, what: string): string => b.add('shift', `${d.name}/${what}`, params, { data: src, images: from.images });
        const test = shifted(from.test, 'test');
        refs.domains.push({
          name: d.name,
          test: fileOf(test, 'data.json'),
          ...(from.utility ? { utility: fileOf(shifted(from.utility, 'utility'), 'data.json') } : {}),
          ...(this.vision ? { images: fileOf(test, 'images') } : {}),
        });
      }
    });
    return refs;
  }

  /** The clean model of a seed: the given or generated model, trained on clean data first if the spec says so. */
  private cleanModel(seed: number): PlannedModel {
    const { spec, b } = this;
    const m = spec.victim.model;
    let base: InputRef = m.path !== undefined ? ext(m.path, 'victim.model.path') : { node: b.add('model', `${m.arch}-${m.preset}/s${seed}`, { arch: m.arch, preset: m.preset, seed }, {}) };
    let stage: string | null = null;
    if (spec.victim.base_training) {
      stage = b.add('train', `base/s${seed}`, trainParams('base', this.modality, seed, spec.victim.base_training), { base, data0: this.data.train });
      base = { node: stage };
    }
    return { id: `clean/s${seed}`, role: 'clean', seed, attack: null, target: null, rate: null, defense: null, stage, ref: { base } };
  }

  /** Every attack's triggered copy of every domain's test inputs; returns a lookup. */
  private triggerSets(seed: number): (attack: string, domain: string) => InputRef {
    const sets = new Map<string, string>();
    for (const a of this.attacks) {
      for (const d of this.data.domains) {
        const node = this.b.add('trigger', `${a.label}/${d.name}/s${seed}`, { attack: a.name, params: a.params, seed: derivedSeed(seed, 'trigger', d.name) }, { data: d.test, images: d.images });
        sets.set(JSON.stringify([a.label, d.name]), node);
        this.triggers.push({ attack: a.label, domain: d.name, seed, node });
      }
    }
    return (attack, domain) => fileOf(sets.get(JSON.stringify([attack, domain])) as string, 'data.json');
  }

  /** The poisoned training files of an attack entry for a target and rate (null: its own poisoned files). */
  private poisonedData(a: PlannedAttack, target: string, rate: number | null, seed: number, tag: string): Record<string, InputRef> {
    if (rate !== null) {
      const p = this.b.add('poison', tag, { attack: a.name, params: a.params, target, rate, seed }, { data: this.data.train, images: this.data.trainImages });
      return { data0: fileOf(p, 'data.json') };
    }
    const i = this.spec.attacks.findIndex((x) => (x.label ?? x.name) === a.label);
    const files = ([] as string[]).concat(this.spec.attacks[i]!.poisoned_train as string | string[]);
    return Object.fromEntries(files.map((f, j) => [`data${j}`, ext(f.replace(/\{attack\}/g, a.name).replace(/\{target\}/g, target), `attacks[${i}].poisoned_train`)]));
  }

  /** A victim of one attack, target, rate and seed, and each defense applied to it. */
  private victims(a: PlannedAttack, target: string, rate: number | null, seed: number, base: InputRef): PlannedModel[] {
    const { spec, b } = this;
    const tag = `${a.label}/${target}${rate === null ? '' : `/r${rate}`}/s${seed}`;
    const trained = b.add('train', `victim/${tag}`, trainParams('victim', this.modality, seed, spec.victim.training), { base, ...this.poisonedData(a, target, rate, seed, tag) });
    const cell = { seed, attack: a.label, target, rate };
    const out: PlannedModel[] = [{ id: `victim/${tag}`, role: 'victim', ...cell, defense: null, stage: trained, ref: { base, tuned: { node: trained } } }];
    for (const d of spec.defenses) {
      if (d.targets && !d.targets.includes(target)) continue;
      const label = d.label ?? d.name;
      const settings = Object.entries(d.params).map(([k, v]) => `${k} ${String(v)}`);
      const defended = b.add(
        'defend',
        `${label}/${tag}`,
        { name: d.name, params: paramStrings(d.params), seed, modality: this.modality },
        { base, tuned: { node: trained }, clean: this.data.defense, validation: this.data.validation },
        `defend the victim with ${d.name}${settings.length ? ` (${settings.join(', ')})` : ''}`,
      );
      out.push({ id: `${label}/${tag}`, role: 'defended', ...cell, defense: label, stage: defended, ref: { base, tuned: { node: defended } } });
    }
    return out;
  }

  /** What is measured on a model: its answers in every domain, scored; its layer profiles. */
  private measure(m: PlannedModel, labels: readonly string[], triggered: (attack: string, domain: string) => InputRef): void {
    const { b, gen } = this;
    const mi = { base: m.ref.base, tuned: m.ref.tuned };
    const attacker = this.data.domains[0] as DomainData;
    for (const d of this.data.domains) {
      const cleanOut = b.add('generate', `${m.id}/${d.name}/clean`, gen, { ...mi, data: d.test });
      for (const label of labels) {
        const a = this.attacks.find((x) => x.label === label) as PlannedAttack;
        const trigOut = b.add('generate', `${m.id}/${d.name}/${label}`, gen, { ...mi, data: triggered(label, d.name) });
        // a clean model has no target of its own: it is scored against each target of the attack
        for (const target of m.target !== null ? [m.target] : a.targets) {
          const ev = b.add('evaluate', `${m.id}/${d.name}/${label}/${target}`, { metric: 'asr', rule: ruleForTarget(target) }, { triggered: { node: trigOut }, clean: { node: cleanOut } });
          this.asr.push({ model: m.id, attack: label, target, domain: d.name, node: ev });
        }
      }
      if (this.evaluations.has('clean_accuracy') && d.utility) {
        const out = b.add('generate', `${m.id}/${d.name}/utility`, gen, { ...mi, data: d.utility });
        const ev = b.add('evaluate', `${m.id}/${d.name}/accuracy`, { metric: 'exact_match' }, { outputs: { node: out }, references: d.utility });
        this.accuracy.push({ model: m.id, attack: null, target: null, domain: d.name, node: ev });
      }
      if (this.evaluations.has('captions')) {
        const ev = b.add('captions', `${m.id}/${d.name}`, {}, { outputs: { node: cleanOut }, references: d.test }, 'caption metrics of the clean outputs (BLEU, CIDEr, ROUGE-L)');
        this.captions.push({ model: m.id, attack: null, target: null, domain: d.name, node: ev });
      }
    }
    for (const label of labels) {
      const pair = { clean: attacker.test, triggered: triggered(label, attacker.name) };
      if (this.evaluations.has('layer_consistency')) {
        const samples = (this.spec.evaluations.find((e) => e.name === 'layer_consistency')?.params.samples as number | undefined) ?? 16;
        const node = b.add('consistency', `${m.id}/${label}`, { modality: this.modality, samples }, { ...mi, ...pair });
        this.consistency.push({ model: m.id, attack: label, target: m.target, domain: attacker.name, node });
      }
      if (this.evaluations.has('detection') && m.role !== 'clean') {
        const about = 'detect triggered inputs by their layer-consistency profile (AUROC, TPR at a fixed FPR)';
        const node = b.add('detect', `${m.id}/${label}`, { seed: m.seed, modality: this.modality }, { ...mi, validation: this.data.validation ?? this.data.defense, ...pair }, about);
        this.detection.push({ model: m.id, attack: label, target: m.target, domain: attacker.name, node });
      }
    }
  }

  /** The whole grid for one seed. */
  planSeed(seed: number): void {
    const clean = this.cleanModel(seed);
    this.models.push(clean);
    const triggered = this.triggerSets(seed);
    const measured: Array<[PlannedModel, string[]]> = [[clean, this.spec.controls.clean_model ? this.attacks.map((a) => a.label) : []]];
    for (const a of this.attacks) {
      for (const target of a.targets) {
        for (const rate of a.prepoisoned ? [null] : this.spec.rates) {
          for (const m of this.victims(a, target, rate, seed, clean.ref.base)) {
            this.models.push(m);
            measured.push([m, [a.label]]);
          }
        }
      }
    }
    for (const [m, labels] of measured) this.measure(m, labels, triggered);
  }
}

export function buildPlan(loaded: LoadedSpec): Plan {
  const spec = loaded.spec;
  const listed = spec.domains && spec.domains.length > 0 ? spec.domains : worldDomains(spec);
  const p = new Planner(spec, loaded.modality, listed);
  for (const seed of spec.seeds) p.planSeed(seed);
  return {
    spec,
    specFile: loaded.file,
    specSha256: loaded.sha256,
    modality: loaded.modality,
    nodes: p.b.nodes,
    domains: listed.map((d, i) => ({ name: d.name, role: i === 0 ? 'attacker' : 'user', description: d.description ?? describeDomain(d) })),
    attacks: p.attacks,
    models: p.models,
    asr: p.asr,
    accuracy: p.accuracy,
    consistency: p.consistency,
    detection: p.detection,
    captions: p.captions,
    triggers: p.triggers,
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
