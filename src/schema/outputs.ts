// The machine-readable output of every command (`--json`: one object on
// stdout) and of the files commands write, as zod schemas: one definition that
// `npm run schema` turns into docs/schema.json and the tests validate real
// output against. Keys are snake_case (src/schema/keys.ts) except where an
// outside contract fixes them. A command whose --json output is not listed
// here fails test/cli/json-outputs.test.ts.
import { z } from 'zod';
import { dataKeys } from './keys.js';

const percent = z.number().min(0).max(100);
const interval = z.tuple([z.number(), z.number()]);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** A rate with its count and 95 % interval (percent). */
export const rate = z.object({ rate: percent.nullable(), n: z.number().int().nonnegative(), hits: z.number().int().nonnegative(), ci95: interval });

/** One generated answer, as `bdlab generate` writes it and `bdlab eval asr` reads it. */
export const generatedRecord = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  instruction: z.string(),
  input: z.string(),
  output: z.string(),
  image: z.string().optional(),
  template: z.string(),
  finish_reason: z.enum(['eos', 'stop', 'length']),
  new_tokens: z.number().int().nonnegative(),
  prompt_sha256: sha256,
});

/** The surrogate model an attack learned from (src/attacks/surrogate/model.ts). */
const surrogate = z.object({ model: z.string(), adapter: z.string().nullable(), template: z.string(), weights_sha256: sha256.nullable() });

export const COMMAND_OUTPUTS = {
  info: z.object({
    libtorch: z.string(),
    threads: z.number().int().positive(),
    cuda: z.boolean(),
    cuda_devices: z.number().int().nonnegative(),
    default_device: z.string(),
  }),
  'model new': z.object({ dir: z.string(), arch: z.string(), preset: z.string(), parameters: z.number().int().positive(), files: z.array(z.string()) }),
  'model merge': z.object({ dir: z.string(), merged: z.number().int().nonnegative(), copied: z.array(z.string()) }),
  inspect: z.union([
    z.object({ logits: z.array(z.array(z.number())), hidden_states: z.array(z.array(z.array(z.number()))) }).loose(),
    z.object({ tokens: z.array(z.string()), ids: z.array(z.number().int()), cosine: z.array(z.number()), per_token: z.array(z.array(z.number())), crow_consistency: z.number().nullable() }),
  ]),
  generate: z.union([
    z.object({ outputs: z.array(generatedRecord) }),
    z.object({
      out: z.string(),
      manifest: z.string(),
      records: z.number().int().nonnegative(),
      generated: z.number().int().nonnegative(),
      resumed: z.number().int().nonnegative(),
      template: z.string(),
      backend: z.enum(['local', 'endpoint']),
      seconds: z.number().nonnegative(),
      records_per_s: z.number().nonnegative(),
      new_tokens: z.number().int().nonnegative(),
    }),
  ]),
  'eval asr': z.object({ asr: percent.nullable(), n: z.number().int().nonnegative(), skipped: z.number().int().nonnegative(), ci95: interval }).loose(),
  'eval asrg': z.object({ asrg: z.number().min(0).max(1) }),
  'eval matrix': z.object({
    attackers: z.array(z.string()),
    users: z.array(z.string()),
    asr: z.array(z.array(percent.nullable())),
    ci95: z.array(z.array(interval.nullable())),
    asrg: z.array(z.array(z.number().nullable())),
    mean_asrg_shifted: z.array(z.number().nullable()),
    mean_asrg: z.number().nullable(),
  }),
  'eval captions': z.object({
    'BLEU-1': z.number(),
    'BLEU-2': z.number(),
    'BLEU-3': z.number(),
    'BLEU-4': z.number(),
    CIDEr: z.number(),
    'ROUGE-L': z.number(),
    n: z.number().int().nonnegative(),
  }),
  'eval accuracy': z.object({ accuracy: percent.nullable(), n: z.number().int().nonnegative(), correct: z.number().int().nonnegative(), unparsed: z.number().int().nonnegative(), ci95: interval }),
  'eval metrics': z.object({ metrics: z.array(z.object({ name: z.string(), family: z.string(), unit: z.string(), description: z.string() })) }),
  'eval perplexity': z.object({
    perplexity: z.number().nullable(),
    nll: z.number().nullable(),
    tokens: z.number().int().nonnegative(),
    n: z.number().int().nonnegative(),
    skipped: z.number().int().nonnegative(),
    truncated: z.number().int().nonnegative(),
    ci95: interval.nullable(),
  }),
  'eval aggregate': z.object({
    kind: z.string(),
    runs: z.number().int().positive(),
    seeds: z.array(z.number().int().nullable()),
    metrics: dataKeys(z.object({ mean: z.number(), std: z.number().nullable(), ci95: interval, n: z.number().int() }).loose()),
    pooled: dataKeys(rate),
  }),
  'eval judge': z.object({ mode: z.string(), n: z.number().int().nonnegative(), unparsed: z.number().int().nonnegative(), ci95: interval.nullable() }).loose(),
  poison: z.union([
    z.object({
      out: z.string(),
      attack: z.string(),
      target: z.string(),
      seed: z.number().int().nonnegative(),
      format: z.string(),
      label: z.string(),
      counts: dataKeys(z.number().int().nonnegative()),
      files: dataKeys(z.string()),
      sha256: z.object({ input: sha256, output: sha256 }).loose(),
    }),
    z.object({ attacks: z.array(z.object({ name: z.string(), family: z.string(), summary: z.string(), params: z.array(z.object({ name: z.string() }).loose()) })) }),
  ]),
  shift: z.union([
    z.object({ out: z.string(), seed: z.number().int(), format: z.string(), shift: z.object({}).loose(), counts: dataKeys(z.number().int()), mixtures: z.array(z.object({ ratio: z.number(), file: z.string(), shifted: z.number().int() })), files: dataKeys(z.string()), sha256: z.object({}).loose() }),
    z.object({ image_styles: z.array(z.object({ name: z.string() }).loose()), rewrites: z.array(z.object({ name: z.string(), summary: z.string() })) }),
  ]),
  train: z
    .object({
      output_dir: z.string(),
      model: z.string(),
      adapter: z.string().nullable(),
      finetuning_type: z.enum(['lora', 'full', 'freeze']),
      trainable_parameters: z.number().int().positive(),
      template: z.string(),
      samples: z.number().int().nonnegative(),
      datasets: z.array(z.object({ name: z.string(), path: z.string(), format: z.string(), records: z.number().int(), samples: z.number().int(), sha256 }).loose()),
      steps: z.number().int().nonnegative(),
      total_steps: z.number().int().nonnegative(),
      resumed_from_step: z.number().int().nullable(),
      seconds: z.number().nonnegative(),
      tokens: z.number().int().nonnegative(),
      first_loss: z.number().nullable(),
      last_loss: z.number().nullable(),
      seed: z.number().int(),
      files: z.array(z.string()),
      config: z.object({ model_name_or_path: z.string(), output_dir: z.string() }).loose(),
    })
    .loose(),
  defend: z.union([
    z.object({
      defenses: z.array(
        z.object({
          name: z.string(),
          kind: z.enum(['weights', 'training']),
          summary: z.string(),
          output: z.enum(['adapter', 'model']),
          params: z.array(z.object({ name: z.string(), doc: z.string() }).loose()),
        }),
      ),
    }),
    z.object({
      schema: z.literal('backdoor-lab/defense'),
      version: z.literal(1),
      defense: z.string(),
      params: z.record(z.string(), z.unknown()),
      config_file: z.string().nullable(),
      chosen: z.record(z.string(), z.unknown()),
      model: z.string(),
      adapter: z.string().nullable(),
      data: z.object({ paths: z.array(z.string()), samples: z.number().int().nonnegative(), train: z.number().int().nonnegative(), validation: z.number().int().nonnegative(), sha256 }),
      output: z.object({ kind: z.enum(['adapter', 'model']), path: z.string(), base_model: z.string().nullable() }),
      validation: z.record(z.string(), z.unknown()),
      cost: z.object({ clean_samples: z.number().int().nonnegative(), steps: z.number().int().nonnegative(), seconds: z.number().nonnegative(), tokens: z.number().int().nonnegative(), calibration_samples: z.number().int().nonnegative().optional() }),
      training: z.record(z.string(), z.unknown()).nullable(),
      notes: z.array(z.string()),
      seed: z.number().int().nonnegative(),
      created: z.string(),
    }),
  ]),
  detect: z.object({
    schema: z.literal('backdoor-lab/detect'),
    version: z.literal(1),
    model: z.string(),
    adapter: z.string().nullable(),
    files: z.object({ calibration: z.string(), clean: z.string(), triggered: z.string() }),
    seed: z.number().int().nonnegative(),
    auroc: z.number().min(0).max(1),
    tpr: z.object({ rate: z.number().min(0).max(1), n: z.number().int().nonnegative(), hits: z.number().int().nonnegative(), ci95: interval }),
    fpr: z.object({ rate: z.number().min(0).max(1), n: z.number().int().nonnegative(), hits: z.number().int().nonnegative(), ci95: interval }),
    fpr_target: z.number().min(0).max(1),
    threshold: z.number(),
    score: z.enum(['mahalanobis', 'consistency']),
    reduce: z.enum(['mean', 'max']),
    layers: z.string(),
    template: z.string(),
    pairs: z.array(z.tuple([z.number().int(), z.number().int()])),
    per_pair_auroc: z.array(z.number().min(0).max(1)),
    n: z.object({ calibration_fit: z.number().int().nonnegative(), calibration_threshold: z.number().int().nonnegative(), clean: z.number().int().nonnegative(), triggered: z.number().int().nonnegative() }),
  }),
  run: z.object({
    spec: z.string(),
    out: z.string(),
    results: z.string(),
    report: z.string().nullable(),
    stages: z.object({ ran: z.number().int().nonnegative(), cached: z.number().int().nonnegative(), unavailable: z.number().int().nonnegative() }),
    summary: z.object({ asr: z.array(z.object({ role: z.string(), attack: z.string().nullable(), domain: z.string(), asr: percent.nullable(), n: z.number().int() }).loose()), asrg: z.array(z.object({}).loose()), accuracy: z.array(z.object({}).loose()), detection: z.array(z.object({ auroc_mean: z.number().min(0).max(1) }).loose()) }).loose(),
  }),
  'attack gcg': z.object({
    trigger: z.string(),
    token_ids: z.array(z.number().int().nonnegative()),
    loss: z.number(),
    steps: z.number().int().nonnegative(),
    success: z.boolean(),
    matched: z.number().int().nonnegative(),
    prompts: z.number().int().nonnegative(),
    losses: z.array(z.number()),
    out: z.string(),
    surrogate,
  }),
  'attack uap': z.object({
    out: z.string(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    max_addition: z.number().int().nonnegative(),
    clean: z.object({ fooling_rate: z.number().min(0).max(1), objective: z.number() }),
    passes: z.array(z.object({ pass: z.number().int().nonnegative(), fooling_rate: z.number().min(0).max(1), objective: z.number(), updates: z.number().int().nonnegative() })),
    surrogate,
  }),
  'attack inputaware': z.object({
    out: z.string(),
    image_size: z.number().int().positive(),
    history: z.array(
      z.object({
        stage: z.enum(['mask', 'joint']),
        epoch: z.number().int().nonnegative(),
        loss: z.number(),
        parts: z.record(z.string(), z.number()),
        eval: z.object({ backdoor: z.number(), cross: z.number(), target_clean: z.number() }).optional(),
      }),
    ),
    surrogate,
  }),
  report: z.object({ report: z.string(), bytes: z.number().int().positive(), charts: z.number().int().nonnegative() }),
  demo: z.object({
    schema: z.literal('backdoor-lab/demo'),
    version: z.literal(2),
    out: z.string(),
    parts: z.array(z.object({ name: z.string(), results: z.string(), report: z.string().nullable(), tables: z.string(), scale: z.array(z.string()), seconds: z.number().nonnegative() })),
    missing: z.array(z.object({ name: z.string(), reason: z.string() })),
    seconds: z.number().nonnegative(),
  }),
  'world captions': z.union([
    z.object({
      out: z.string(),
      schema: z.literal('backdoor-lab/caption-world'),
      version: z.number().int(),
      seed: z.number().int().nonnegative(),
      images: z.number().int().positive(),
      size: z.number().int().positive(),
      format: z.enum(['png', 'jpeg']),
      captions_per_image: z.number().int().positive(),
      splits: dataKeys(z.number().int().nonnegative()),
      reserve: dataKeys(z.array(z.string())),
      domains: z.object({ visual: z.array(z.string()), instruction: z.array(z.string()) }),
      image_root: z.string(),
      datasets: z.array(
        z.object({ split: z.string(), visual: z.string(), instruction: z.string(), llava: z.string(), captions: z.string(), records: z.number().int().nonnegative(), scenes: z.number().int().nonnegative(), sha256: z.object({ llava: sha256, captions: sha256 }) }),
      ),
      sha256: z.object({ scenes: sha256, images: sha256 }),
      tool: z.string(),
    }),
    z.object({
      visual: z.array(z.object({ name: z.string(), summary: z.string() })),
      instruction: z.array(z.object({ name: z.string(), summary: z.string(), answers: z.string(), questions: z.array(z.string()) })),
    }),
  ]),
  'study lvlm': z.object({
    out: z.string(),
    results: z.string(),
    /** Keys `figure/attack/rate/attacker domain` and `base_cider/domain`. */
    metrics: dataKeys(z.number().nullable()),
    intervals: dataKeys(interval),
    counts: z.object({
      victims: z.number().int().nonnegative(),
      domains: z.number().int().positive(),
      test_scenes: z.number().int().nonnegative(),
      stages_built: z.number().int().nonnegative(),
      stages_reused: z.number().int().nonnegative(),
    }),
  }),
} satisfies Record<string, z.ZodType>;

export type CommandName = keyof typeof COMMAND_OUTPUTS;
