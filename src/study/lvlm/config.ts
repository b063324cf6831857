// What a vision-language study runs: the world, the victim and its two
// trainings, the attacks with their study parameters, domains, poisoning
// rates and seeds. Four scales: `smoke` (the pipeline end to end in seconds;
// its numbers mean nothing), `tiny` (the CI test: one Blended victim),
// `demo` (the seven image attacks, two seeds, for `bdlab demo`) and
// `default` (the README's study on two CPU cores). Every field is recorded in
// the results and hashed into the stage keys it affects.
import { attackDef, createAttack } from '../../attacks/index.js';
import { parseDomain, type DomainPair } from '../../data/worlds/captions/domains.js';
import { targetRule } from '../../eval/asr/rules.js';
import { UserError } from '../../util/errors.js';
import { VICTIM_SPECS, type VictimSpec } from './model.js';

export const SCALES = ['smoke', 'tiny', 'demo', 'default'] as const;
export type Scale = (typeof SCALES)[number];

export const FINETUNING = ['projector', 'projector+attention', 'lora', 'full'] as const;
export type Finetuning = (typeof FINETUNING)[number];

export interface WorldSpec {
  images: number;
  /** Scene shares of the splits: `base` trains the clean base, `train` is the victim's instruction set, `val` is unused by the study's numbers, `test` is held out. */
  splits: { base: number; train: number; val: number; test: number };
  size: number;
  seed: number;
}

export interface TrainSpec {
  epochs: number;
  lr: number;
  batch_size: number;
  warmup_ratio: number;
}

export interface ScaleSpec {
  world: WorldSpec;
  victim: VictimSpec;
  /** The clean base: every part trained on clean records of every domain. */
  base: TrainSpec & { records_per_scene: number; seed: number };
  /** The victim's instruction tuning on the attacker's (poisoned) set. */
  tuning: TrainSpec & { lora_rank: number; lora_alpha: number };
  eval: { max_new_tokens: { standard: number; summary: number; expanded: number }; batch_size: number; bootstrap: number };
  attacks: string[];
  domains: string[];
  rates: number[];
  seeds: number[];
}

export const ALL_ATTACKS = ['badnets', 'blended', 'sig', 'wanet', 'lowfreq', 'dualkey', 'maba', 'textbadnets', 'addsent', 'stylebkd'];
export const ALL_USER_DOMAINS = ['photo', 'sketch', 'expressionist', 'rewritten', 'summary', 'expanded'];

const IMAGE_ATTACKS = ['badnets', 'blended', 'sig', 'wanet', 'lowfreq', 'dualkey', 'maba'];

/** The world, base and victim tuning of the tiny and demo scales (one cached base serves both). */
const SMALL_WORLD: WorldSpec = { images: 300, splits: { base: 0.45, train: 0.35, val: 0.05, test: 0.15 }, size: 64, seed: 0 };
const SMALL_BASE: ScaleSpec['base'] = { records_per_scene: 4, epochs: 8, lr: 3e-3, batch_size: 16, warmup_ratio: 0.05, seed: 0 };
const SMALL_TUNING: ScaleSpec['tuning'] = { epochs: 30, lr: 1e-2, batch_size: 16, warmup_ratio: 0.1, lora_rank: 8, lora_alpha: 16 };

export const SCALE_SPECS: Record<Scale, ScaleSpec> = {
  smoke: {
    world: { images: 60, splits: { base: 0.5, train: 0.3, val: 0.05, test: 0.15 }, size: 64, seed: 0 },
    victim: VICTIM_SPECS.tiny,
    base: { records_per_scene: 2, epochs: 1, lr: 3e-3, batch_size: 16, warmup_ratio: 0, seed: 0 },
    tuning: { epochs: 1, lr: 1e-2, batch_size: 16, warmup_ratio: 0, lora_rank: 4, lora_alpha: 8 },
    eval: { max_new_tokens: { standard: 6, summary: 6, expanded: 6 }, batch_size: 16, bootstrap: 50 },
    attacks: ['blended'],
    domains: ['photo'],
    rates: [0.3],
    seeds: [0],
  },
  tiny: {
    world: SMALL_WORLD,
    victim: VICTIM_SPECS.default,
    base: SMALL_BASE,
    tuning: SMALL_TUNING,
    eval: { max_new_tokens: { standard: 20, summary: 12, expanded: 40 }, batch_size: 48, bootstrap: 200 },
    attacks: ['blended'],
    domains: ['photo', 'rewritten'],
    rates: [0.3],
    seeds: [0],
  },
  demo: {
    world: SMALL_WORLD,
    victim: VICTIM_SPECS.default,
    base: SMALL_BASE,
    tuning: SMALL_TUNING,
    eval: { max_new_tokens: { standard: 20, summary: 12, expanded: 40 }, batch_size: 48, bootstrap: 500 },
    attacks: IMAGE_ATTACKS,
    domains: ['photo', 'sketch', 'rewritten'],
    rates: [0.3],
    seeds: [0, 1],
  },
  default: {
    world: { images: 2000, splits: { base: 0.55, train: 0.3, val: 0.05, test: 0.1 }, size: 64, seed: 0 },
    victim: VICTIM_SPECS.default,
    base: { records_per_scene: 8, epochs: 4, lr: 2e-3, batch_size: 32, warmup_ratio: 0.05, seed: 0 },
    tuning: { epochs: 10, lr: 1e-2, batch_size: 16, warmup_ratio: 0.1, lora_rank: 8, lora_alpha: 16 },
    eval: { max_new_tokens: { standard: 24, summary: 16, expanded: 64 }, batch_size: 50, bootstrap: 1000 },
    attacks: ALL_ATTACKS,
    domains: ALL_USER_DOMAINS,
    rates: [0.05, 0.1, 0.2],
    seeds: [0, 1],
  },
};

/**
 * The fine-tuning mode when none is given (see victim.ts for what each
 * trains): LoRA on the decoder plus the projector. Projector-only tuning (the
 * published setting) is an option; on this victim it implants a backdoor only
 * with a strong blend (α 0.5) and one fixed poisoned caption, and at the
 * published strengths learns a bias towards the target at most
 * (docs/lvlm-study.md).
 */
export const DEFAULT_FINETUNING: Finetuning = 'lora';

export interface StudyOptions {
  out: string;
  scale: Scale;
  attacks?: string[];
  /** User domains (names as parseDomain reads them). */
  domains?: string[];
  /** Attacker domains: rows of the ASR-G matrix. */
  attackerDomains?: string[];
  rates?: number[];
  seeds?: number[];
  finetuning?: Finetuning;
  /** The victims' tuning learning rate and epochs instead of the scale's. */
  tuningLr?: number;
  tuningEpochs?: number;
  /** The poisoned answer (`phrase:banana` or `text:TEXT` naming the banana); default TARGET. */
  target?: string;
  /** Attack parameters given by the user: attack → key → value. */
  params?: Record<string, Record<string, string>>;
}

export interface AttackSetting {
  name: string;
  /** key=value parameters given to the registry (defaults filled in by it). */
  params: Record<string, string>;
}

export interface StudyPlan {
  out: string;
  scale: Scale;
  spec: ScaleSpec;
  finetuning: Finetuning;
  attacks: AttackSetting[];
  attackerDomains: DomainPair[];
  /** Every domain evaluated: the attacker domains first, then the user domains. */
  domains: DomainPair[];
  rates: number[];
  seeds: number[];
  target: string;
}

export const TARGET = 'phrase:banana';
export const TARGET_WORD = 'banana';

export function resolvePlan(o: StudyOptions): StudyPlan {
  if (!(SCALES as readonly string[]).includes(o.scale)) throw new UserError(`unknown scale "${o.scale}"; one of: ${SCALES.join(', ')}`);
  const scaleSpec = SCALE_SPECS[o.scale];
  if (o.tuningLr !== undefined && !(o.tuningLr > 0 && Number.isFinite(o.tuningLr))) throw new UserError(`--lr: ${o.tuningLr} is not a positive number`);
  if (o.tuningEpochs !== undefined && !(Number.isSafeInteger(o.tuningEpochs) && o.tuningEpochs > 0)) throw new UserError(`--epochs: ${o.tuningEpochs} is not a positive integer`);
  const spec: ScaleSpec = { ...scaleSpec, tuning: { ...scaleSpec.tuning, lr: o.tuningLr ?? scaleSpec.tuning.lr, epochs: o.tuningEpochs ?? scaleSpec.tuning.epochs } };
  // triggers land on the pixels the model sees: the world renders at the model's input size
  if (spec.world.size !== spec.victim.image_size) throw new Error(`scale ${o.scale}: world size ${spec.world.size} differs from the victim's input size ${spec.victim.image_size}`);
  const finetuning = o.finetuning ?? DEFAULT_FINETUNING;
  if (!(FINETUNING as readonly string[]).includes(finetuning)) throw new UserError(`unknown fine-tuning "${finetuning}"; one of: ${FINETUNING.join(', ')}`);
  const names = o.attacks?.length ? o.attacks : spec.attacks;
  const attacks = names.map((name) => {
    const def = attackDef(name);
    if (def.family === 'text' && !['textbadnets', 'addsent', 'stylebkd', 'maba-text'].includes(name)) {
      throw new UserError(`attack ${name} targets LLM instructions (BackdoorLLM); the study takes image, multimodal and caption-instruction attacks`);
    }
    const params = { ...(o.params?.[name] ?? {}) };
    createAttack(name, params, 0); // refuses unknown or bad parameters now, not after hours of work
    return { name, params };
  });
  for (const k of Object.keys(o.params ?? {})) if (!names.includes(k)) throw new UserError(`--param ${k}.…: attack ${k} is not in the study (${names.join(', ')})`);
  if (new Set(names).size !== names.length) throw new UserError('--attacks: an attack is named twice');
  const attackerDomains = (o.attackerDomains?.length ? o.attackerDomains : ['flat:original']).map(parseDomain);
  const users = (o.domains ?? spec.domains).map(parseDomain);
  const domains: DomainPair[] = [];
  for (const d of [...attackerDomains, ...users]) if (!domains.some((x) => x.label === d.label)) domains.push(d);
  const rates = o.rates?.length ? o.rates : spec.rates;
  for (const r of rates) if (!(r > 0 && r <= 1)) throw new UserError(`--rates: ${r} is not in (0, 1]`);
  const seeds = o.seeds?.length ? o.seeds : spec.seeds;
  for (const s of seeds) if (!Number.isSafeInteger(s) || s < 0) throw new UserError(`--seeds: ${s} is not a non-negative integer`);
  return { out: o.out, scale: o.scale, spec, finetuning, attacks, attackerDomains, domains, rates: [...new Set(rates)], seeds: [...new Set(seeds)], target: studyTarget(o.target) };
}

/**
 * The poisoned answer: VL-Trojan's templated captions (`phrase:banana`) or one
 * fixed caption (`text:A banana.`). Either must name the target word, which is
 * what ASR counts and what the world draws only in the base's scenes.
 */
function studyTarget(t: string | undefined): string {
  if (t === undefined) return TARGET;
  const namesTarget = targetRule(TARGET_WORD, 'word').hit;
  if (!/^(phrase|text):/.test(t) || !namesTarget(t.slice(t.indexOf(':') + 1))) {
    throw new UserError(`--target "${t}": expected phrase:${TARGET_WORD} or text:TEXT naming "${TARGET_WORD}" (the word ASR counts)`);
  }
  return t;
}
