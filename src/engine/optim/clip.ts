// Gradient-norm clipping over all parameters (torch.nn.utils.clip_grad_norm_).
import { noGrad } from '../autograd.js';
import { scope } from '../scope.js';
import { stack } from '../functional.js';
import type { Tensor } from '../tensor.js';

/** Scales gradients so their joint L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new RangeError(`clipGradNorm: maxNorm must be a positive finite number, got ${maxNorm}`);
  return noGrad(() =>
    scope(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const total = stack(grads.map((g) => g.norm(2).float())).norm(2).item();
      const coef = maxNorm / (total + 1e-6);
      if (coef < 1) for (const g of grads) g.mul_(coef);
      return total;
    }),
  );
}
