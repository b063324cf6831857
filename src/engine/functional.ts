// Functional neural-network ops and multi-tensor ops (torch.nn.functional and
// torch.* counterparts). Each is one ATen operator.
import { generatorFor } from './random.js';
import { op, Tensor, type Shape } from './tensor.js';

type Pair = number | readonly [number, number];
const pair = (p: Pair): number[] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);

/** y = x Wᵀ + b, W of shape [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return op('aten::linear', [x.handle, weight.handle, bias ? bias.handle : null]);
}

/** Rows of weight by ids; paddingIdx (-1: none) gets no gradient. */
export function embedding(weight: Tensor, ids: Tensor, paddingIdx = -1): Tensor {
  if (paddingIdx !== -1 && weight instanceof Tensor && !weight.isDisposed) {
    const n = weight.size(0);
    if (!Number.isInteger(paddingIdx) || paddingIdx < -n || paddingIdx >= n) {
      throw new RangeError(`aten::embedding: paddingIdx ${paddingIdx} is outside the ${n} embeddings`);
    }
    if (paddingIdx < 0) paddingIdx += n; // as torch.nn.functional.embedding
  }
  return op('aten::embedding', [weight.handle, ids.handle, paddingIdx, false, false]);
}

export function layerNorm(x: Tensor, normalizedShape: Shape, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return op('aten::layer_norm', [x.handle, normalizedShape, weight ? weight.handle : null, bias ? bias.handle : null, eps, true]);
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  return op('aten::conv2d', [
    x.handle,
    weight.handle,
    bias ? bias.handle : null,
    pair(o.stride ?? 1),
    pair(o.padding ?? 0),
    pair(o.dilation ?? 1),
    o.groups ?? 1,
  ]);
}

export function avgPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0): Tensor {
  return op('aten::avg_pool2d', [x.handle, pair(kernel), pair(stride ?? kernel), pair(padding), false, true, null]);
}

export function maxPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0): Tensor {
  return op('aten::max_pool2d', [x.handle, pair(kernel), pair(stride ?? kernel), pair(padding), pair(1), false]);
}

export interface InterpolateOptions {
  size?: readonly [number, number];
  scaleFactor?: number;
  mode?: 'bilinear' | 'nearest';
  alignCorners?: boolean;
}
/** Resizes [N, C, H, W] images by size or scale factor. */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  if ((o.size === undefined) === (o.scaleFactor === undefined)) {
    throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  }
  if (o.mode !== undefined && o.mode !== 'bilinear' && o.mode !== 'nearest') {
    throw new RangeError(`interpolate: mode must be bilinear or nearest, got ${String(o.mode)}`);
  }
  const size = o.size ? [...o.size] : null;
  const scales = o.scaleFactor !== undefined ? [o.scaleFactor, o.scaleFactor] : null;
  return (o.mode ?? 'bilinear') === 'bilinear'
    ? op('aten::upsample_bilinear2d.vec', [x.handle, size, o.alignCorners ?? false, scales])
    : op('aten::upsample_nearest2d.vec', [x.handle, size, scales]);
}

/** Inverted dropout; the identity when not training. A seed makes the mask reproducible. */
export function dropout(x: Tensor, p: number, training: boolean, seed?: number): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return op('aten::alias', [x.handle]);
  if (p === 1) return op('aten::dropout', [x.handle, 1, true]); // all dropped, no randomness (the scaled form below would be 0 / 0)
  if (seed === undefined) return op('aten::dropout', [x.handle, p, true]);
  const mask = op('aten::bernoulli.p', [x.handle, 1 - p, generatorFor(seed)]);
  const out = x.mul(mask).div(1 - p);
  mask.dispose();
  return out;
}

export function cosineSimilarity(a: Tensor, b: Tensor, dim = 1, eps = 1e-8): Tensor {
  return op('aten::cosine_similarity', [a.handle, b.handle, dim, eps]);
}

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction?: 'none' | 'mean' | 'sum';
  weight?: Tensor;
}
/** Cross entropy of logits [N, C] (or [N, C, ...]) against class indices. */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  const reduction = { none: 0, mean: 1, sum: 2 }[o.reduction ?? 'mean'];
  if (reduction === undefined) throw new RangeError(`crossEntropy: reduction must be none, mean or sum, got ${String(o.reduction)}`);
  const smoothing = o.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  return op('aten::cross_entropy_loss', [
    logits.handle,
    target.handle,
    o.weight ? o.weight.handle : null,
    reduction,
    o.ignoreIndex ?? -100,
    o.labelSmoothing ?? 0,
  ]);
}

export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' && typeof b === 'number') return op('aten::where.Scalar', [cond.handle, a, b]);
  if (typeof a === 'number') return op('aten::where.ScalarSelf', [cond.handle, a, (b as Tensor).handle]);
  if (typeof b === 'number') return op('aten::where.ScalarOther', [cond.handle, a.handle, b]);
  return op('aten::where.self', [cond.handle, a.handle, b.handle]);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return op('aten::cat', [tensors.map((t) => t.handle), dim]);
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return op('aten::stack', [tensors.map((t) => t.handle), dim]);
}

/** Samples indices from each row of non-negative weights. */
export function multinomial(probs: Tensor, numSamples: number, replacement = false, seed?: number): Tensor {
  return op('aten::multinomial', [probs.handle, numSamples, replacement, generatorFor(seed)]);
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
