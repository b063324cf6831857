// Non-finite model outputs as an error instead of silently wrong text: the
// command-line paths check each forward pass's logits (two cheap reductions
// over what the pass returned; generation keeps one position) and, when a
// value is NaN or infinite, name the cause — a weight tensor holding NaN or
// infinity, found by scanning the parameters only then, or else the config
// fields that most often produce overflow.
import { noGrad, scope, type Tensor } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import type { CausalLM, CausalLMInput, CausalLMOutput } from './llama.js';

/** Whether every value of `t` is finite: x − x is 0 for finite x and NaN otherwise, in any dtype. */
function allFinite(t: Tensor): boolean {
  return noGrad(() => scope(() => t.sub(t).sum().item() === 0));
}

/** Why a model gives non-finite logits, as one sentence. */
function nonFiniteReason(model: CausalLM, where: string): string {
  for (const [name, p] of model.namedParameters()) {
    if (!allFinite(p)) return `${where}: non-finite logits: the weights hold NaN or infinite values in '${name.replace('.base_layer.', '.')}'`;
  }
  const c = model.textConfig;
  const dtype = model.parameters()[0]?.dtype ?? 'float32';
  const scaling = c.ropeScaling.type === 'default' ? 'none' : `${c.ropeScaling.type} × ${c.ropeScaling.factor}`;
  return (
    `${where}: non-finite logits (NaN or infinity) from finite weights; likely causes in config.json: rms_norm_eps (${c.rmsNormEps}), ` +
    `rope_theta (${c.ropeTheta}), rope_scaling (${scaling}), or activations overflowing ${dtype}${dtype === 'float32' ? '' : ' (try --dtype float32)'}`
  );
}

/**
 * Makes every forward pass of `model` check its logits and throw a UserError
 * naming the cause when one is not finite. Returns a function that undoes it.
 */
export function checkLogitsOf(model: CausalLM, where: string): () => void {
  const own = Object.prototype.hasOwnProperty.call(model, 'forward');
  const previous = model.forward;
  const forward = previous.bind(model);
  model.forward = (inp: CausalLMInput): CausalLMOutput => {
    const out = forward(inp);
    if (!allFinite(out.logits)) throw new UserError(nonFiniteReason(model, where));
    return out;
  };
  return () => {
    if (own) model.forward = previous;
    else delete (model as { forward?: unknown }).forward;
  };
}
