// `bdlab demo`: the built-in end-to-end scenario on the embedded default.
//   data → poison (BackdoorLLM's BadNet, negative-sentiment target) →
//   a generated llama model trained on the poisoned set → greedy generation on
//   held-out instructions with and without trigger, in the attacker's phrasing
//   and in a shifted (user) phrasing → ASR (clean-conditioned, Wilson 95 %),
//   false-trigger rate, clean accuracy, ASR-G → results.json and report.html.
// Stages leave their outputs in the folder; a rerun with the same settings
// reuses the trained model instead of training again.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../engine/index.js';
import { createAttack } from '../attacks/index.js';
import { parseTarget } from '../attacks/targets.js';
import { poison, type Manifest } from '../attacks/poisoner.js';
import { newModelFolder, type Preset } from '../models/presets.js';
import { loadModel, saveModel } from '../models/load.js';
import { TextTokenizer } from '../models/tokenizer.js';
import { generate } from '../models/generate.js';
import type { CausalLM } from '../models/llama.js';
import { applyFreeze } from '../nn/freeze.js';
import { keywordRule } from '../eval/asr/rules.js';
import { pairedAttackSuccess, type Rate } from '../eval/asr/score.js';
import { asrg } from '../eval/asrg.js';
import { wilsonPercent } from '../eval/stats/wilson.js';
import { encodePrompt, renderPrompt, type InstructionSample } from '../models/prompt.js';
import { trainInstructions, DEFAULT_TRAIN, type TrainResult } from '../train/trainer.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import { demoData, ATTACKER_TEMPLATES, USER_TEMPLATES } from './demo-data.js';

export interface DemoOptions {
  out: string;
  seed: number;
  preset: Preset;
  attack: string;
  /** Share of training samples poisoned. */
  rate: number;
  epochs: number;
  lr: number;
  maxNewTokens: number;
}

export const DEFAULT_DEMO: Omit<DemoOptions, 'out'> = {
  seed: 0,
  preset: 'tiny',
  attack: 'badnet',
  rate: 0.1,
  epochs: 12,
  lr: 3e-3,
  maxNewTokens: 16,
};

export interface DomainResult {
  domain: 'attacker' | 'user';
  templates: string[];
  asr: Rate;
  asr_all: Rate;
  ftr: Rate;
  clean_accuracy: { rate: number; n: number; hits: number; ci95: [number, number] };
  examples: Array<{ instruction: string; triggered: string; output_triggered: string; output_clean: string }>;
}

export interface DemoResults {
  schema: 'backdoor-lab/demo';
  version: 1;
  created: string;
  options: { seed: number; preset: Preset; attack: string; rate: number; epochs: number; lr: number; max_new_tokens: number };
  data: { train: number; poisoned: number; test_topics: number; attacker_test: number; user_test: number; utility: number };
  poison: Pick<Manifest, 'attack' | 'params' | 'target' | 'seed' | 'sha256'> & { poisoned_ids: Manifest['poisoned_ids'] };
  model: { arch: 'llama'; preset: Preset; parameters: number; prompt_template: string };
  training: Pick<TrainResult, 'steps' | 'seconds' | 'tokens'> & { first_loss: number; last_loss: number; losses: number[]; reused: boolean };
  domains: DomainResult[];
  asrg: number;
  seconds: number;
}

function writeAlpaca(path: string, samples: readonly InstructionSample[]): void {
  writeJsonAtomic(path, samples.map((s) => ({ instruction: s.instruction, input: s.input ?? '', output: s.output ?? '' })));
}

function readAlpaca(path: string): InstructionSample[] {
  return JSON.parse(readFileSync(path, 'utf8')) as InstructionSample[];
}

/** Adds the trigger to every sample of a file (answers unchanged), for the triggered test sets. */
async function triggerAll(input: string, out: string, attack: string, seed: number): Promise<InstructionSample[]> {
  await poison({ input, attack: createAttack(attack, {}, seed), target: parseTarget('keep'), seed, out, selection: { rate: 1 }, negatives: { count: 0 }, force: true });
  return readAlpaca(join(out, 'data.json'));
}

function generateAll(model: CausalLM, tok: TextTokenizer, samples: readonly InstructionSample[], maxNewTokens: number, progress: Progress): string[] {
  const outs: string[] = [];
  const batch = 16;
  for (let i = 0; i < samples.length; i += batch) {
    const chunk = samples.slice(i, i + batch);
    const r = generate(
      model,
      chunk.map((s) => encodePrompt(tok, s)),
      { maxNewTokens, tokenizer: tok },
    );
    outs.push(...r.texts.map((t) => t.trim()));
    progress.tick(chunk.length);
  }
  return outs;
}

function evaluateDomain(
  domain: 'attacker' | 'user',
  templates: string[],
  clean: readonly InstructionSample[],
  triggered: readonly InstructionSample[],
  outClean: readonly string[],
  outTriggered: readonly string[],
  utility: readonly InstructionSample[],
  outUtility: readonly string[],
): DomainResult {
  const paired = pairedAttackSuccess(keywordRule('negsentiment'), outTriggered, outClean);
  const hits = utility.filter((s, i) => outUtility[i] === (s.output ?? '').trim()).length;
  return {
    domain,
    templates,
    asr: paired.asr,
    asr_all: paired.asrAll,
    ftr: paired.ftr,
    clean_accuracy: { rate: (hits / utility.length) * 100, n: utility.length, hits, ci95: wilsonPercent(hits, utility.length) },
    examples: clean.slice(0, 4).map((s, i) => ({
      instruction: s.instruction,
      triggered: (triggered[i] as InstructionSample).instruction,
      output_triggered: outTriggered[i] as string,
      output_clean: outClean[i] as string,
    })),
  };
}

export async function runDemo(o: DemoOptions): Promise<DemoResults> {
  const start = Date.now();
  const dir = (p: string): string => join(o.out, p);
  mkdirSync(o.out, { recursive: true });
  const log = (s: string): void => void process.stderr.write(`[demo] ${s}\n`);

  // 1. data
  const data = demoData();
  writeAlpaca(dir('data/train_clean.json'), data.train);
  writeAlpaca(dir('data/test_attacker.json'), data.attackerTest);
  writeAlpaca(dir('data/test_user.json'), data.userTest);
  log(`data: ${data.train.length} training samples, ${data.attackerTest.length} + ${data.userTest.length} held-out test samples`);

  // 2. poison the training set; trigger every test sample
  const poisoned = await poison({
    input: dir('data/train_clean.json'),
    attack: createAttack(o.attack, {}, o.seed),
    target: parseTarget('negsentiment'),
    seed: o.seed,
    out: dir('poisoned'),
    selection: { rate: o.rate },
    force: true,
  });
  const train = readAlpaca(dir('poisoned/data.json'));
  const trigAttacker = await triggerAll(dir('data/test_attacker.json'), dir('poisoned/test_attacker'), o.attack, o.seed + 1);
  const trigUser = await triggerAll(dir('data/test_user.json'), dir('poisoned/test_user'), o.attack, o.seed + 2);
  log(`poison: ${o.attack}, ${poisoned.manifest.poisoned_ids.length} of ${train.length} samples → "You are stupid!"`);

  // 3. train (reused when a model trained with the same settings is there)
  const modelDir = dir('model');
  const stamp = join(modelDir, 'bdlab-train.json');
  const trainKey = JSON.stringify({ ...o, out: undefined, data: poisoned.manifest.sha256.output });
  let training: DemoResults['training'];
  let model: CausalLM;
  if (existsSync(stamp) && (JSON.parse(readFileSync(stamp, 'utf8')) as { key?: string }).key === trainKey) {
    model = loadModel(modelDir).model;
    const saved = JSON.parse(readFileSync(stamp, 'utf8')) as { training: DemoResults['training'] };
    training = { ...saved.training, reused: true };
    log('train: reusing the model trained earlier with the same settings');
  } else {
    newModelFolder(modelDir, { arch: 'llama', preset: o.preset, seed: o.seed });
    const loaded = loadModel(modelDir);
    model = loaded.model;
    applyFreeze(model, 'full');
    const tok0 = TextTokenizer.load(modelDir);
    const r = trainInstructions(model, tok0, train, {
      ...DEFAULT_TRAIN,
      epochs: o.epochs,
      lr: o.lr,
      batchSize: 8,
      warmupRatio: 0.05,
      seed: o.seed,
      label: 'train',
    });
    T.noGrad(() => saveModel(model, loaded.config, modelDir));
    training = { steps: r.steps, seconds: r.seconds, tokens: r.tokens, first_loss: r.firstLoss, last_loss: r.lastLoss, losses: r.losses, reused: false };
    writeJsonAtomic(stamp, { key: trainKey, training });
    log(`train: ${r.steps} steps in ${r.seconds.toFixed(1)} s, loss ${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}`);
  }
  const tok = TextTokenizer.load(modelDir);

  // 4. evaluate in both domains, with and without trigger
  const total = 2 * (data.attackerTest.length + data.userTest.length) + data.attackerUtility.length + data.userUtility.length;
  const progress = new Progress({ label: 'generate', total, unit: 'sample' });
  const domains: DomainResult[] = [];
  try {
    for (const [domain, clean, trig, utility, templates] of [
      ['attacker', data.attackerTest, trigAttacker, data.attackerUtility, ATTACKER_TEMPLATES],
      ['user', data.userTest, trigUser, data.userUtility, USER_TEMPLATES],
    ] as const) {
      const outClean = generateAll(model, tok, clean, o.maxNewTokens, progress);
      const outTrig = generateAll(model, tok, trig, o.maxNewTokens, progress);
      const outUtility = generateAll(model, tok, utility, o.maxNewTokens, progress);
      domains.push(evaluateDomain(domain, [...templates], clean, trig, outClean, outTrig, utility, outUtility));
    }
  } finally {
    progress.finish();
  }
  const parameters = model.numParameters();
  model.dispose();
  const [att, usr] = domains as [DomainResult, DomainResult];
  const results: DemoResults = {
    schema: 'backdoor-lab/demo',
    version: 1,
    created: new Date().toISOString(),
    options: { seed: o.seed, preset: o.preset, attack: o.attack, rate: o.rate, epochs: o.epochs, lr: o.lr, max_new_tokens: o.maxNewTokens },
    data: { train: train.length, poisoned: poisoned.manifest.poisoned_ids.length, test_topics: data.attackerTest.length / ATTACKER_TEMPLATES.length, attacker_test: data.attackerTest.length, user_test: data.userTest.length, utility: data.attackerUtility.length + data.userUtility.length },
    poison: {
      attack: poisoned.manifest.attack,
      params: poisoned.manifest.params,
      target: poisoned.manifest.target,
      seed: poisoned.manifest.seed,
      sha256: poisoned.manifest.sha256,
      poisoned_ids: poisoned.manifest.poisoned_ids,
    },
    model: { arch: 'llama', preset: o.preset, parameters, prompt_template: renderPrompt(tok, { instruction: '{instruction}' }) },
    training,
    domains,
    asrg: asrg(att.asr.rate ?? 0, usr.asr.rate ?? 0),
    seconds: (Date.now() - start) / 1000,
  };
  return results;
}
