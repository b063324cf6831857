import { readSamples } from './records.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `detect`: `bdlab detect` on a model (input `base` plus `tuned`): each input
 * scored by its layer-consistency profile (src/defenses/detect.ts), the score
 * fitted and the threshold set on the defender's clean samples (input
 * `validation`), AUROC and TPR/FPR at the threshold on the clean test inputs
 * (`clean`) against their triggered copies (`triggered`).
 */
export interface DetectParams {
  seed: number;
  modality: 'text' | 'vision';
  /** Prompt template, as the victim was trained. */
  template?: string;
}

export type DetectOutput = {
  auroc: number;
  tpr: number;
  tpr_ci95: [number, number];
  fpr: number;
  fpr_ci95: [number, number];
  fpr_target: number;
  score: string;
  layers: string;
  per_pair_auroc: number[];
  n_calibration: number;
  n_clean: number;
  n_triggered: number;
};

export const detectStage = registerStage<DetectParams, DetectOutput>({
  kind: 'detect',
  version: 1,
  describe: () => 'detect triggered inputs by their layer-consistency profile (AUROC, TPR at 5 % FPR)',
  unavailable: (p) => (p.modality === 'vision' ? 'detection reads text prompts' : null),
  async run(ctx) {
    const { detect, DEFAULT_DETECT } = await import('../../defenses/index.js');
    const { model, tokenizer } = ctx.models.get(ctx.inputs.base as Input, ctx.inputs.tuned);
    const r = detect(
      model,
      tokenizer,
      {
        calibration: readSamples((ctx.inputs.validation as Input).path),
        clean: readSamples((ctx.inputs.clean as Input).path),
        triggered: readSamples((ctx.inputs.triggered as Input).path),
      },
      { ...DEFAULT_DETECT, seed: ctx.params.seed, template: ctx.params.template ?? 'auto' },
    );
    ctx.log(`AUROC ${r.auroc.toFixed(3)}, TPR ${(r.tpr.rate * 100).toFixed(1)} % at FPR ${(r.fpr.rate * 100).toFixed(1)} %`);
    return {
      auroc: r.auroc,
      tpr: r.tpr.rate,
      tpr_ci95: r.tpr.ci95,
      fpr: r.fpr.rate,
      fpr_ci95: r.fpr.ci95,
      fpr_target: r.fpr_target,
      score: r.score,
      layers: r.layers,
      per_pair_auroc: r.per_pair_auroc,
      n_calibration: r.n.calibration_fit + r.n.calibration_threshold,
      n_clean: r.n.clean,
      n_triggered: r.n.triggered,
    };
  },
});
