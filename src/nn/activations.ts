// The activation functions models name in their configs, in one table like
// Hugging Face's ACT2FN: a config's `hidden_act` string is looked up here, so
// a new activation is one entry and every model that names it gets it.
import type { Tensor } from '../engine/index.js';

export const ACT2FN = {
  silu: (x: Tensor) => x.silu(),
  gelu: (x: Tensor) => x.gelu(),
  gelu_pytorch_tanh: (x: Tensor) => x.gelu('tanh'),
  // x·σ(1.702x), the approximation CLIP was trained with
  quick_gelu: (x: Tensor) => x.mul(x.mul(1.702).sigmoid()),
  relu: (x: Tensor) => x.relu(),
} as const satisfies Record<string, (x: Tensor) => Tensor>;

export type ActivationName = keyof typeof ACT2FN;

export function isActivation(name: string): name is ActivationName {
  return Object.prototype.hasOwnProperty.call(ACT2FN, name);
}
