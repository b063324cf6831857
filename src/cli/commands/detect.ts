import type { Command } from 'commander';
import { resolve } from 'node:path';
import { emit } from '../output.js';
import { parseCount, parseNumber, parseSeed } from '../flags.js';
import { UserError } from '../../util/errors.js';

interface DetectFlags {
  model: string;
  adapter?: string;
  calibration: string;
  clean: string;
  triggered: string;
  fpr: string;
  score: string;
  reduce: string;
  layers: string;
  batchSize: string;
  maxLength: string;
  seed: string;
  template: string;
  device?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
}

/**
 * `bdlab detect`: flags triggered inputs by their layer-consistency profile
 * (src/defenses/detect.ts), with a threshold calibrated on clean inputs at a
 * chosen false-positive rate, and reports AUROC and TPR/FPR on a labelled
 * test set (a clean file and a triggered file).
 */
export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description('detect triggered inputs by layer consistency: calibrate on clean inputs at a false-positive rate, report AUROC and TPR on a labelled test set')
    .requiredOption('--model <dir>', 'Hugging Face model folder')
    .option('--adapter <dir>', 'PEFT LoRA adapter for --model')
    .requiredOption('--calibration <file>', 'clean inputs for fitting and the threshold (records with "instruction" and optional "input"), never the test inputs')
    .requiredOption('--clean <file>', 'clean test inputs, e.g. BackdoorLLM test_data/clean/<task>/test_data_no_trigger.json')
    .requiredOption('--triggered <file>', 'triggered test inputs, e.g. BackdoorLLM test_data/poison/<task>/<attack>/backdoor200_....json')
    .option('--fpr <rate>', 'false-positive rate the threshold allows on the calibration inputs', '0.05')
    .option('--score <kind>', 'mahalanobis (profile distance from clean profiles) or consistency (mean 1 − cos, CROW\'s C)', 'mahalanobis')
    .option('--reduce <how>', 'over the prompt\'s tokens: mean or max', 'mean')
    .option('--layers <start:end>', 'hidden_states slice of the first member of each compared pair (0:-1 = every pair; 1:-2 = CROW\'s)', '0:-1')
    .option('--batch-size <n>', 'inputs per forward pass', '16')
    .option('--max-length <n>', 'longest prompt in tokens', '1024')
    .option('--seed <n>', 'seed of the calibration halves (mahalanobis)', '0')
    .option('--template <name>', "prompt template, as the model was trained (auto: the model's chat template, else alpaca)", 'auto')
    .option('--device <device>', 'cpu or cuda[:N] (default: cpu)')
    .option('--out <file>', 'also write the result with every score as JSON')
    .option('--force', 'overwrite --out')
    .option('--json', 'print one JSON object (without the per-input scores)')
    .action(async (f: DetectFlags) => {
      const fpr = parseNumber(f.fpr, '--fpr', { min: 0, max: 1, maxExclusive: true, what: 'a rate' });
      const batchSize = parseCount(f.batchSize, '--batch-size', { min: 1 });
      const maxLength = parseCount(f.maxLength, '--max-length', { min: 1 });
      const seed = parseSeed(f.seed);
      const { resolveDevice } = await import('../../engine/runtime.js');
      const device = resolveDevice(f.device ?? 'cpu');
      const { existsSync } = await import('node:fs');
      if (f.out && existsSync(f.out) && !f.force) throw new UserError(`--out ${f.out}: exists (use --force to overwrite)`);
      const { detect, SCORES, REDUCTIONS } = await import('../../defenses/detect.js');
      if (!(SCORES as readonly string[]).includes(f.score)) throw new UserError(`--score must be one of ${SCORES.join(', ')}, got '${f.score}'`);
      if (!(REDUCTIONS as readonly string[]).includes(f.reduce)) throw new UserError(`--reduce must be one of ${REDUCTIONS.join(', ')}, got '${f.reduce}'`);
      const { parseLayerSlice } = await import('../../defenses/crow.js');
      const { isTemplateName, templateNames } = await import('../../models/prompt.js');
      if (!isTemplateName(f.template)) throw new UserError(`--template must be one of ${templateNames().join(', ')}, got '${f.template}'`);
      const layers = parseLayerSlice(f.layers);
      const { readInputs } = await import('../../defenses/inputs.js');
      const calibration = readInputs(resolve(f.calibration));
      const clean = readInputs(resolve(f.clean));
      const triggered = readInputs(resolve(f.triggered));
      const { loadModel } = await import('../../models/load.js');
      const { TextTokenizer } = await import('../../models/tokenizer.js');
      const tok = TextTokenizer.load(resolve(f.model));
      const { model } = loadModel(resolve(f.model), { device });
      try {
        if (f.adapter) {
          const { loadAdapter } = await import('../../models/peft.js');
          loadAdapter(model, resolve(f.adapter));
        }
        const r = detect(model, tok, { calibration, clean, triggered }, { layers, reduce: f.reduce as 'mean', score: f.score as 'mahalanobis', fpr, batchSize, maxLength, seed, template: f.template });
        const record = {
          schema: 'backdoor-lab/detect',
          version: 1,
          model: resolve(f.model),
          adapter: f.adapter ? resolve(f.adapter) : null,
          files: { calibration: resolve(f.calibration), clean: resolve(f.clean), triggered: resolve(f.triggered) },
          seed,
          ...r,
        };
        if (f.out) {
          const { writeJsonAtomic } = await import('../../util/atomic.js');
          writeJsonAtomic(resolve(f.out), record);
        }
        const { scores, ...summary } = record;
        void scores;
        const pct = (x: { rate: number; ci95: [number, number] }): string => `${(x.rate * 100).toFixed(1)} % [${(x.ci95[0] * 100).toFixed(1)}, ${(x.ci95[1] * 100).toFixed(1)}]`;
        emit(Boolean(f.json), summary, () =>
          [
            `AUROC ${r.auroc.toFixed(4)} (${r.n.triggered} triggered vs ${r.n.clean} clean test inputs; score ${r.score}, ${r.reduce} over tokens, pairs ${r.layers})`,
            `threshold ${r.threshold.toPrecision(6)} for ${(r.fpr_target * 100).toFixed(1)} % false positives on ${r.n.calibration_threshold} clean calibration inputs`,
            `TPR ${pct(r.tpr)}; FPR on clean test inputs ${pct(r.fpr)}`,
            `AUROC per pair: ${r.pairs.map(([a, b], j) => `h${a}-h${b} ${(r.per_pair_auroc[j] as number).toFixed(3)}`).join(', ')}`,
          ].join('\n'),
        );
      } finally {
        model.dispose();
      }
    });
}
