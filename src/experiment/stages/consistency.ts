import { cosineSimilarity, noGrad, scope, tensor, type Tensor } from '../../engine/index.js';
import type { CausalLM } from '../../models/llama.js';
import { encodePrompt } from '../../models/prompt.js';
import { readSamples } from './records.js';
import { registerStage } from './registry.js';
import type { Input } from './types.js';

/**
 * `consistency`: CROW's observation as a figure — the cosine similarity of
 * consecutive hidden states, layer by layer (mean over prompt tokens, then over
 * samples), for clean inputs and the same inputs with the trigger. Hidden
 * states follow Hugging Face's `output_hidden_states` (embeddings, each block,
 * the last after the final norm), so pair l is (h_l, h_{l+1}). Per sample it
 * also records CROW's consistency loss C = mean(1 − cos) over the block pairs
 * hidden_states[1:-2] vs [2:-1], as `bdlab inspect --crow` computes it.
 */
export interface ConsistencyParams {
  modality: 'text' | 'vision';
  samples: number;
}

export type ConsistencyOutput = {
  n: number;
  /** cosine of pair l = (h_l, h_{l+1}), l = 0..L−1, mean over samples. */
  clean: number[];
  triggered: number[];
  /** CROW's C per sample. */
  clean_scores: number[];
  triggered_scores: number[];
};

function profile(model: CausalLM, ids: number[]): number[] {
  return noGrad(() =>
    scope(() => {
      const out = model.forward({ inputIds: tensor([ids], { dtype: 'int64' }), outputHiddenStates: true });
      const hs = (out.hiddenStates ?? []).map((h) => h.select(0, 0).float());
      const cos: number[] = [];
      for (let l = 0; l + 1 < hs.length; l++) {
        const c = cosineSimilarity(hs[l] as Tensor, hs[l + 1] as Tensor, -1).cpu().toNumbers();
        cos.push(c.reduce((a, b) => a + b, 0) / c.length);
      }
      return cos;
    }),
  );
}

function crowScore(cos: readonly number[]): number {
  const pairs = cos.slice(1, cos.length - 1);
  return pairs.length ? pairs.reduce((a, c) => a + (1 - c), 0) / pairs.length : 0;
}

function mean(rows: readonly number[][]): number[] {
  const L = rows[0]?.length ?? 0;
  return Array.from({ length: L }, (_, l) => rows.reduce((a, r) => a + (r[l] as number), 0) / rows.length);
}

export const consistencyStage = registerStage<ConsistencyParams, ConsistencyOutput>({
  kind: 'consistency',
  version: 1,
  describe: (p) => `layer-to-layer cosine of hidden states on ${p.samples} clean and triggered inputs`,
  unavailable: (p) => (p.modality === 'vision' ? 'layer profiles of a vision-language model need its images' : null),
  async run(ctx) {
    const { model, tokenizer } = ctx.models.get(ctx.inputs.base as Input, ctx.inputs.tuned);
    const clean = readSamples((ctx.inputs.clean as Input).path).slice(0, ctx.params.samples);
    const trig = readSamples((ctx.inputs.triggered as Input).path).slice(0, ctx.params.samples);
    const n = Math.min(clean.length, trig.length);
    const c = clean.slice(0, n).map((s) => profile(model, encodePrompt(tokenizer, s)));
    const t = trig.slice(0, n).map((s) => profile(model, encodePrompt(tokenizer, s)));
    return { n, clean: mean(c), triggered: mean(t), clean_scores: c.map(crowScore), triggered_scores: t.map(crowScore) };
  },
});
