import * as z from 'zod';

/**
 * results.json of `bdlab run`: everything the report draws, machine-readable,
 * snake_case. Rates are percent, ASR-G a fraction; every interval is 95 %.
 * Records follow the evaluation records of src/eval/results.ts (schema,
 * version, kind, tool, subject, seed, prompts, config, inputs, counts,
 * metrics, intervals, details) without their `created` time: every time and
 * duration of a run is under `timing`, so two runs of one spec give files that
 * are byte-identical apart from `timing`.
 */
export const RESULTS_SCHEMA = 'backdoor-lab/experiment-results';
export const RESULTS_VERSION = 1;

const interval = z.tuple([z.number(), z.number()]);
const rate = z.number().nullable();

const evalRecordSchema = z.object({
  schema: z.literal('backdoor-lab/eval-result'),
  version: z.literal(1),
  kind: z.enum(['asr', 'asrg', 'accuracy']),
  tool: z.object({ name: z.string(), version: z.string() }),
  subject: z.record(z.string(), z.string()),
  seed: z.number().nullable(),
  prompts: z.object({ template: z.string().nullable() }),
  config: z.record(z.string(), z.unknown()),
  inputs: z.array(z.object({ role: z.string(), path: z.string(), sha256: z.string(), records: z.number() })),
  counts: z.record(z.string(), z.number().int().min(0)),
  metrics: z.record(z.string(), rate),
  intervals: z.record(z.string(), interval),
  details: z.record(z.string(), z.unknown()).optional(),
});

const role = z.enum(['clean', 'victim', 'defended']);

/** What identifies a row of the summary: one model configuration, pooled over seeds. */
const cell = {
  role,
  attack: z.string().nullable(),
  target: z.string().nullable(),
  rate: z.number().nullable(),
  defense: z.string().nullable(),
};

const asrRowSchema = z.object({
  ...cell,
  /** A specificity control of the attack (near-miss or partial trigger); null for the attack's own trigger. */
  probe: z.string().nullable().default(null),
  domain: z.string(),
  seeds: z.number().int(),
  /** Pooled over seeds: ASR where the clean answer is not the target, Wilson interval. */
  asr: rate,
  asr_ci95: interval,
  n: z.number().int(),
  hits: z.number().int(),
  /** Pooled ASR over every triggered output (the published count). */
  asr_all: rate,
  asr_all_ci95: interval,
  /** False-trigger rate on clean inputs. */
  ftr: rate,
  ftr_ci95: interval,
  /** ASR of each seed, and their mean with a Student-t interval (null below two seeds; clipped to [0, 100]). */
  asr_per_seed: z.array(rate),
  asr_seed_mean: rate,
  asr_seed_ci95: interval.nullable(),
});

const asrgRowSchema = z.object({
  ...cell,
  attacker_domain: z.string(),
  domain: z.string(),
  seeds: z.number().int(),
  /** ASR-G of the pooled plain ASRs (attacker's domain vs this one). */
  asrg: z.number().nullable(),
  asrg_per_seed: z.array(z.number().nullable()),
  asrg_seed_mean: z.number().nullable(),
  asrg_seed_ci95: interval.nullable(),
});

const accuracyRowSchema = z.object({
  ...cell,
  domain: z.string(),
  seeds: z.number().int(),
  accuracy: rate,
  accuracy_ci95: interval,
  n: z.number().int(),
  hits: z.number().int(),
});

/** Detection of triggered inputs by layer consistency, per model and seed. */
const detectionSchema = z.object({
  model: z.string(),
  ...cell,
  seed: z.number(),
  domain: z.string(),
  auroc: z.number(),
  tpr: z.number(),
  tpr_ci95: interval,
  fpr: z.number(),
  fpr_ci95: interval,
  fpr_target: z.number(),
  score: z.string(),
  per_pair_auroc: z.array(z.number()),
  n_clean: z.number().int(),
  n_triggered: z.number().int(),
});

/** AUROC of one configuration over seeds. */
const detectionRowSchema = z.object({
  ...cell,
  domain: z.string(),
  seeds: z.number().int(),
  auroc_per_seed: z.array(z.number()),
  auroc_mean: z.number(),
  /** Student-t over seeds (null below two seeds), clipped to [0, 1]. */
  auroc_seed_ci95: interval.nullable(),
});

export const resultsSchema = z.object({
  schema: z.literal(RESULTS_SCHEMA),
  version: z.literal(RESULTS_VERSION),
  tool: z.object({ name: z.string(), version: z.string() }),
  spec: z.object({ name: z.string(), description: z.string().nullable(), file: z.string(), sha256: z.string(), modality: z.enum(['text', 'vision']) }),
  seeds: z.array(z.number()).default([]),
  rates: z.array(z.number()).default([]),
  attacks: z
    .array(
      z.object({
        label: z.string(),
        name: z.string(),
        params: z.record(z.string(), z.string()),
        targets: z.array(z.string()),
        prepoisoned: z.boolean(),
        probes: z.array(z.object({ label: z.string(), name: z.string(), params: z.record(z.string(), z.string()) })).default([]),
      }),
    )
    .default([]),
  defenses: z.array(z.object({ label: z.string(), name: z.string(), params: z.record(z.string(), z.string()), targets: z.array(z.string()).nullable() })).default([]),
  domains: z.array(z.object({ name: z.string(), role: z.enum(['attacker', 'user']), description: z.string() })).default([]),
  models: z.array(z.object({ id: z.string(), ...cell, seed: z.number(), artifact: z.string().nullable() })).default([]),
  records: z.array(evalRecordSchema).default([]),
  summary: z
    .object({ asr: z.array(asrRowSchema).default([]), asrg: z.array(asrgRowSchema).default([]), accuracy: z.array(accuracyRowSchema).default([]), detection: z.array(detectionRowSchema).default([]) })
    .default({ asr: [], asrg: [], accuracy: [], detection: [] }),
  training: z.array(
    z.object({
      model: z.string(),
      ...cell,
      seed: z.number(),
      steps: z.number().int(),
      tokens: z.number().int(),
      samples: z.number().int(),
      first_loss: z.number(),
      last_loss: z.number(),
      losses: z.array(z.number()),
    }),
  ).default([]),
  layer_consistency: z.array(
    z.object({
      model: z.string(),
      ...cell,
      seed: z.number(),
      domain: z.string(),
      n: z.number().int(),
      clean: z.array(z.number()),
      triggered: z.array(z.number()),
      clean_score_mean: z.number().nullable(),
      triggered_score_mean: z.number().nullable(),
    }),
  ).default([]),
  detection: z.array(detectionSchema).default([]),
  contact_sheets: z.array(
    z.object({
      attack: z.string(),
      domain: z.string(),
      seed: z.number(),
      /** Image paths relative to the results file's folder (or absolute). */
      images: z.array(z.object({ poisoned: z.string(), clean: z.string().nullable(), label: z.string() })),
    }),
  ).default([]),
  stages: z.array(z.object({ id: z.string(), kind: z.string(), key: z.string(), artifact: z.string() })).default([]),
  unavailable: z.array(z.object({ id: z.string(), kind: z.string(), reason: z.string() })).default([]),
  timing: z.object({
    started: z.string(),
    finished: z.string(),
    seconds: z.number(),
    stages: z.array(z.object({ id: z.string(), status: z.enum(['ran', 'cached']), seconds: z.number() })),
  }).optional(),
});

export type ExperimentResults = z.output<typeof resultsSchema>;
export type EvalRecord = z.output<typeof evalRecordSchema>;
export type AsrRow = z.output<typeof asrRowSchema>;
export type AsrgRow = z.output<typeof asrgRowSchema>;
export type AccuracyRow = z.output<typeof accuracyRowSchema>;
export type DetectionRow = z.output<typeof detectionRowSchema>;
