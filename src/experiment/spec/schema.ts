import * as z from 'zod';
import { PRESETS } from '../../models/presets.js';
import { trainingSchema } from './training.js';

/**
 * The experiment spec (`bdlab run SPEC.yaml`): what to poison, train, defend and
 * measure, over attacks × targets × rates × defenses × seeds, evaluated in every
 * domain. The grid is expanded by plan.ts; docs/experiments.md is checked
 * against this schema by a test, so every field below is documented there.
 *
 * Paths are relative to the spec file and may hold `{var}` placeholders
 * (from `vars`, overridden by `bdlab run --set var=value`); paths inside an
 * attack entry may also use `{attack}` and `{target}`.
 */

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const name = (what: string) => z.string().regex(NAME, `${what}: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit`);
const path = z.string().min(1, 'expected a path');
const paths = z.union([path, z.array(path).min(1)]);

/** A parameter value as YAML gives it; checked against the owner's typed parameters later. */
const paramValue = z.union([z.number(), z.string(), z.boolean(), z.array(z.union([z.string(), z.number()]))]);
const params = z.record(z.string(), paramValue).default({});

const worldSchema = z.strictObject({
  name: z.string().describe('an embedded world (`instructions`)'),
  params: params.describe('the world\'s parameters'),
});

const dataSchema = z
  .strictObject({
    world: worldSchema.optional().describe('generate the data from an embedded world instead of files'),
    train: path.optional().describe('the clean training set the attacks poison (Alpaca or LLaVA JSON/JSONL)'),
    format: z.enum(['alpaca', 'alpaca-jsonl', 'llava', 'llava-jsonl']).optional().describe('format of the training files (default: detected)'),
    image_root: path.optional().describe('folder the image paths of the training set are relative to (default: the file\'s folder)'),
    defense: path.optional().describe('clean samples for the defenses (e.g. CROW\'s 100-sample set)'),
    validation: path.optional().describe('clean validation samples (defense hyper-parameters, detection thresholds; never test data)'),
  })
  .superRefine((d, ctx) => {
    if (d.world && d.train) ctx.addIssue({ code: 'custom', path: ['train'], message: 'give either data.world or data.train, not both' });
  });

const shiftSchema = z
  .strictObject({
    question: z.string().optional().describe('instruction rewrite (`summary`, `expansion`, `paraphrase`)'),
    answer: z.string().optional().describe('answer rewrite (same names)'),
    image_styles: z.array(z.string()).optional().describe('image styles applied in order (see `bdlab shift --help`)'),
  })
  .refine((s) => s.question !== undefined || s.answer !== undefined || (s.image_styles?.length ?? 0) > 0, 'give question, answer and/or image_styles');

const domainSchema = z
  .strictObject({
    name: name('domain name').describe('names the domain in results; the first domain is the attacker\'s'),
    description: z.string().optional().describe('one line for the report'),
    world: z.string().optional().describe('a domain of the embedded world'),
    test: path.optional().describe('clean test inputs; each attack makes triggered copies of them (paired by position)'),
    utility: path.optional().describe('samples with reference answers for clean accuracy (exact match)'),
    image_root: path.optional().describe('folder the test set\'s image paths are relative to'),
    from: z.string().optional().describe('another domain whose test (and utility) set this one shifts'),
    shift: shiftSchema.optional().describe('the shift applied to `from`\'s inputs (before the trigger)'),
  })
  .superRefine((d, ctx) => {
    const sources = [d.world !== undefined, d.test !== undefined, d.from !== undefined].filter(Boolean).length;
    if (sources !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of world, test or from' });
    if ((d.from === undefined) !== (d.shift === undefined)) ctx.addIssue({ code: 'custom', path: [d.from === undefined ? 'shift' : 'from'], message: 'from and shift go together' });
  });

const attackSchema = z.strictObject({
  name: z.string().describe('a registry name (`bdlab poison --list-attacks`)'),
  label: name('attack label').optional().describe('names this entry in results when one attack appears with different parameters (default: the name)'),
  params: params.describe('the attack\'s parameters (as `--param key=value`)'),
  target: z.string().optional().describe('the poisoned answer, as `bdlab poison --target` (default: each of `targets`)'),
  probes: z
    .array(
      z.strictObject({
        label: name('probe label').describe('names the control in results'),
        name: z.string().optional().describe('the registry attack that makes the control\'s inputs (default: this entry\'s attack)'),
        params: params.describe('its parameters, e.g. a near-miss trigger word, or one key of a composite trigger'),
      }),
    )
    .default([])
    .describe('trigger-specificity controls: the attacker\'s test inputs with a near-miss or partial trigger, measured on this attack\'s victims (a specific backdoor does not fire on them)'),
  poisoned_train: paths
    .optional()
    .describe('training files already poisoned with this attack (e.g. BackdoorLLM\'s backdoor500 + none_backdoor500); then `rates` does not apply and the trigger of the test inputs still comes from the registry attack'),
});

const modelSchema = z
  .strictObject({
    preset: z.enum(PRESETS).optional().describe('a generated model (`bdlab model new --preset`), initialised from the seed'),
    arch: z.enum(['llama', 'llava']).default('llama').describe('architecture of the generated model'),
    path: path.optional().describe('a Hugging Face model folder (Llama-family or LLaVA)'),
  })
  .superRefine((m, ctx) => {
    if ((m.preset === undefined) === (m.path === undefined)) ctx.addIssue({ code: 'custom', path: [], message: 'give either preset or path' });
  });

const victimSchema = z.strictObject({
  model: modelSchema.describe('the model the victim starts from'),
  base_training: trainingSchema.optional().describe('train a clean base on the clean training set first (once per seed), e.g. a generated model'),
  training: trainingSchema.describe('the victim\'s instruction tuning on the poisoned set (LLaMA-Factory keys)'),
});

const defenseSchema = z.strictObject({
  name: z.string().describe('a defense registry name (`bdlab defend --list`)'),
  label: name('defense label').optional().describe('names this entry in results when one defense appears with different parameters (default: the name)'),
  params: params.describe('the defense\'s parameters'),
  targets: z.array(z.string()).min(1).optional().describe('defend only the victims of these targets (e.g. CROW\'s α differs between sentiment and refusal); default: every victim'),
});

const EVALUATIONS = ['asr', 'clean_accuracy', 'layer_consistency', 'detection', 'captions'] as const;

const evaluationSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { name: v } : v),
  z.strictObject({
    name: z.enum(EVALUATIONS).describe('asr (plain and clean-conditioned, false-trigger rate, ASR-G), clean_accuracy, layer_consistency (the CROW figure), detection, captions (CIDEr)'),
    params: params.describe('the evaluation\'s parameters'),
  }),
);

const generationSchema = z.strictObject({
  max_new_tokens: z.number().int().positive().default(128).describe('new tokens per answer (greedy), 128 as the published evaluations'),
  batch_size: z.number().int().positive().default(16).describe('prompts per generation batch'),
});

export const specSchema = z
  .strictObject({
    name: name('spec name').describe('names the run'),
    description: z.string().optional().describe('one paragraph for the report'),
    vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are identifiers'), z.string()).default({}).describe('values for `{name}` placeholders in paths; `bdlab run --set name=value` overrides'),
    seeds: z.array(z.number().int().min(0)).min(1).default([0]).describe('every seed runs the whole grid (poisoning, training order, triggers)'),
    data: dataSchema.describe('where the training data come from: an embedded world, or files'),
    domains: z.array(domainSchema).optional().describe('test domains; the first is the attacker\'s (default: the world\'s domains)'),
    targets: z.array(z.string()).min(1).default(['negsentiment']).describe('poisoned answers (`negsentiment`, `refusal`, `codeinjection`, `sst2sentiment`, `phrase:TEXT`, ...)'),
    attacks: z.array(attackSchema).min(1).describe('the attacks, each with its parameters'),
    rates: z.array(z.number().gt(0).max(1)).min(1).default([0.1]).describe('shares of the training set poisoned'),
    victim: victimSchema.describe('the model under attack and how it is trained'),
    defenses: z.array(defenseSchema).default([]).describe('defenses applied to every victim (or to those of an entry\'s `targets`)'),
    evaluations: z.array(evaluationSchema).default([{ name: 'asr', params: {} }]).describe('what is measured on every model'),
    generation: generationSchema.default({ max_new_tokens: 128, batch_size: 16 }).describe('how answers are generated'),
    controls: z
      .strictObject({
        clean_model: z.boolean().default(true).describe('also measure the clean model on every attack\'s triggered inputs'),
      })
      .default({ clean_model: true })
      .describe('control measurements'),
    report: z
      .strictObject({
        contact_sheet: z.number().int().min(0).default(6).describe('poisoned images per attack and domain in the report'),
      })
      .default({ contact_sheet: 6 })
      .describe('what the report shows'),
  })
  .superRefine((s, ctx) => {
    const dup = (xs: readonly string[], where: string): void => {
      const seen = new Set<string>();
      xs.forEach((x, i) => {
        if (seen.has(x)) ctx.addIssue({ code: 'custom', path: [where, i], message: `"${x}" appears twice` });
        seen.add(x);
      });
    };
    dup(s.seeds.map(String), 'seeds');
    dup(s.rates.map(String), 'rates');
    dup(s.targets, 'targets');
    dup(s.evaluations.map((e) => e.name), 'evaluations');
    if (s.domains) dup(s.domains.map((d) => d.name), 'domains');
    s.domains?.forEach((d, i) => {
      if (d.from !== undefined && !s.domains!.slice(0, i).some((o) => o.name === d.from)) {
        ctx.addIssue({ code: 'custom', path: ['domains', i, 'from'], message: `"${d.from}" is not a domain listed before this one` });
      }
      if (d.world !== undefined && !s.data.world) ctx.addIssue({ code: 'custom', path: ['domains', i, 'world'], message: 'needs data.world' });
    });
    if (!s.domains && !s.data.world) ctx.addIssue({ code: 'custom', path: ['domains'], message: 'give the test domains (only an embedded world brings its own)' });
    if (!s.data.world && !s.data.train) {
      const i = s.attacks.findIndex((a) => a.poisoned_train === undefined);
      if (i >= 0) ctx.addIssue({ code: 'custom', path: ['data'], message: `give data.world or data.train: attacks[${i}] poisons the training set` });
      if (s.victim.base_training) ctx.addIssue({ code: 'custom', path: ['victim', 'base_training'], message: 'a clean base needs clean training data (data.world or data.train)' });
    }
    // two entries of a defense for the same victims need labels to tell their results apart
    s.defenses.forEach((d, i) => {
      const label = d.label ?? d.name;
      s.defenses.slice(0, i).forEach((e, j) => {
        const overlap = !d.targets || !e.targets || d.targets.some((t) => e.targets!.includes(t));
        if ((e.label ?? e.name) === label && overlap) ctx.addIssue({ code: 'custom', path: ['defenses', i, d.label ? 'label' : 'name'], message: `defenses[${j}] is also called "${label}" for the same victims; give each entry its own label` });
      });
    });
    // entries of one attack with different parameters need labels to tell their results apart
    s.attacks.forEach((a, i) => {
      const label = a.label ?? a.name;
      const j = s.attacks.findIndex((b) => (b.label ?? b.name) === label);
      if (j < i) ctx.addIssue({ code: 'custom', path: ['attacks', i, a.label ? 'label' : 'name'], message: `attacks[${j}] is also called "${label}"; give each entry its own label` });
    });
  });

export type SpecInput = z.input<typeof specSchema>;
export type Spec = z.output<typeof specSchema>;
export type DomainSpec = z.output<typeof domainSchema>;
export type AttackSpec = z.output<typeof attackSchema>;
export type DefenseSpec = z.output<typeof defenseSchema>;
export type EvaluationSpec = z.output<typeof evaluationSchema>;
export type EvaluationName = (typeof EVALUATIONS)[number];
