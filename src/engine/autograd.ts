// Autograd entry points beyond Tensor.backward: gradients with respect to
// arbitrary inputs (CROW perturbs input embeddings along ∇_e C(e)) and
// gradient-free regions.
import { native } from './native.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  gradOutputs?: Tensor[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/** d(sum of outputs)/d(inputs), like torch.autograd.grad; unused inputs give null when allowUnused. */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], opts: GradOptions = {}): Array<Tensor | null> {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const createGraph = opts.createGraph ?? false;
  const res = native().autogradGrad(
    outs.map((t) => t.handle),
    ins.map((t) => t.handle),
    opts.gradOutputs ? opts.gradOutputs.map((t) => t.handle) : null,
    opts.retainGraph ?? createGraph,
    createGraph,
    opts.allowUnused ?? false,
  );
  return res.map((h) => (h ? new Tensor(h) : null));
}

function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = native().gradEnabled();
  native().setGradEnabled(on);
  try {
    return fn();
  } finally {
    native().setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording off (restored afterwards, also on error). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording on. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native().gradEnabled();
}
