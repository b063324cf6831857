// Every differentiable op's backward, checked against finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';
import type { Tensor } from '../../src/engine/index.js';
import { gradcheck } from './gradcheck.js';

const positive = (x: Tensor): Tensor => x.abs().add(0.5);
const awayFromZero = (x: Tensor): Tensor => x.add(x.sign().mul(0.2));
const idx = (v: number[], shape?: number[]): Tensor => T.tensor(v, { dtype: 'int64', ...(shape ? { shape } : {}) });

const unary: Array<[string, (x: Tensor) => Tensor, ((x: Tensor) => Tensor)?]> = [
  ['neg', (x) => x.neg()],
  ['contiguous', (x) => x.transpose(0, 1).contiguous().exp()],
  // sign is piecewise constant: its gradient is 0 away from 0 (alone, and inside a product)
  ['sign', (x) => x.sign(), awayFromZero],
  ['sign times exp', (x) => x.sign().mul(x.exp()), awayFromZero],
  ['abs', (x) => x.abs(), awayFromZero],
  ['exp', (x) => x.exp()],
  ['log', (x) => x.log(), positive],
  ['sqrt', (x) => x.sqrt(), positive],
  ['rsqrt', (x) => x.rsqrt(), positive],
  ['sin', (x) => x.sin()],
  ['cos', (x) => x.cos()],
  ['tanh', (x) => x.tanh()],
  ['sigmoid', (x) => x.sigmoid()],
  ['relu', (x) => x.relu(), awayFromZero],
  ['gelu exact', (x) => x.gelu()],
  ['gelu tanh', (x) => x.gelu('tanh')],
  ['silu', (x) => x.silu()],
  ['pow scalar', (x) => x.pow(3)],
  ['clamp', (x) => x.clamp(-0.5, 0.5), (x) => x.mul(3).add(x.sign().mul(0.1))],
  ['softmax', (x) => x.softmax(-1)],
  ['logSoftmax', (x) => x.logSoftmax(1)],
  ['sum all', (x) => x.sum()],
  ['sum dims keepdim', (x) => x.sum([0], true)],
  ['mean dim', (x) => x.mean(1)],
  ['var', (x) => x.var(1)],
  ['std', (x) => x.std(0, true)],
  ['norm', (x) => x.norm(2, 1)],
  ['norm p=1', (x) => x.norm(1, 1), awayFromZero],
  ['norm p=3', (x) => x.norm(3, 0, true)],
  ['norm p=Infinity', (x) => x.norm(Infinity, 1), awayFromZero],
  ['norm p=3 all elements', (x) => x.norm(3)],
  ['norm p=Infinity all elements', (x) => x.norm(Infinity), awayFromZero],
  ['max dim', (x) => x.max(1).values],
  ['min all', (x) => x.min()],
  ['max all', (x) => x.max()],
  ['min dim', (x) => x.min(1).values],
  ['min dim keepdim', (x) => x.min(0, true).values.mul(x)],
  ['logsumexp', (x) => x.logsumexp(1)],
  ['cumsum', (x) => x.cumsum(1)],
  ['topk', (x) => x.topk(2, 1).values],
  ['sort', (x) => x.sort(1, true).values],
  ['reshape', (x) => x.reshape([4, 3]).mul(x.reshape([4, 3]))],
  ['view', (x) => x.view([12]).exp()],
  ['permute', (x) => x.permute([1, 0]).exp()],
  ['transpose', (x) => x.transpose(0, 1).matmul(x)],
  ['unsqueeze squeeze', (x) => x.unsqueeze(0).exp().squeeze(0)],
  ['expand', (x) => x.narrow(0, 0, 1).expand([5, 4]).exp()],
  ['repeat', (x) => x.repeat([2, 1]).exp()],
  ['narrow', (x) => x.narrow(1, 1, 2).exp()],
  ['slice', (x) => x.slice(1, 0, 4, 2).exp()],
  ['select', (x) => x.select(0, 1).exp()],
  ['split', (x) => { const [a, b] = x.split(2, 1) as [Tensor, Tensor]; return a.mul(b); }],
  ['chunk', (x) => { const [a, b] = x.chunk(2, 0) as [Tensor, Tensor]; return a.sub(b.exp()); }],
  ['flatten', (x) => x.flatten().exp()],
  ['indexSelect', (x) => x.indexSelect(0, idx([2, 0, 2]))],
  ['gather', (x) => x.gather(1, idx([0, 3, 1, 1, 2, 0], [3, 2]))],
  ['scatter', (x) => T.zeros([3, 5], { dtype: 'float64' }).scatter(1, idx([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1], [3, 4]).remainder(5), x)],
  ['scatter scalar value', (x) => x.scatter(1, idx([0, 2, 1, 3, 3, 0], [3, 2]), 0.5).exp()],
  ['index', (x) => x.index([idx([0, 2]), idx([1, 3])])],
  ['triu', (x) => x.triu(1).exp()],
  ['tril', (x) => x.tril().exp()],
  ['maskedFill', (x) => x.maskedFill(x.gt(0), 0.5).exp()],
  ['where scalar', (x) => T.where(x.gt(0), x, 0)],
  ['dropout seeded', (x) => T.dropout(x, 0.3, true, 5)],
  ['layerNorm', (x) => T.layerNorm(x, [4])],
  ['cosineSimilarity', (x) => T.cosineSimilarity(x, x.flip(0), 1)],
];

for (const [name, f, transform] of unary) {
  test(`gradient: ${name}`, () => gradcheck(([x]) => f(x as Tensor), [[3, 4]], transform ? { transform } : {}));
}

test('gradient: add/sub/mul/div with broadcasting', () => {
  gradcheck(([a, b]) => (a as Tensor).add(b as Tensor, 2).mul(a as Tensor).sub(b as Tensor).div((b as Tensor).abs().add(1)), [[3, 4], [4]]);
});
test('gradient: pow tensor exponent', () => gradcheck(([a, b]) => (a as Tensor).pow(b as Tensor), [[3], [3]], { transform: (x, i) => (i === 0 ? positive(x) : x) }));
test('gradient: maximum/minimum', () => gradcheck(([a, b]) => (a as Tensor).maximum(b as Tensor).add((a as Tensor).minimum(b as Tensor).mul(2)), [[5], [5]], { seed: 3 }));
test('gradient: where', () => gradcheck(([a, b]) => T.where((a as Tensor).gt(b as Tensor), (a as Tensor).exp(), (b as Tensor).mul(3)), [[6], [6]], { seed: 11 }));
test('gradient: matmul', () => gradcheck(([a, b]) => (a as Tensor).matmul(b as Tensor), [[2, 3, 4], [4, 5]]));
test('gradient: bmm', () => gradcheck(([a, b]) => (a as Tensor).bmm(b as Tensor), [[2, 3, 4], [2, 4, 2]]));
test('gradient: linear', () => gradcheck(([x, w, b]) => T.linear(x as Tensor, w as Tensor, b as Tensor), [[3, 4], [2, 4], [2]]));
test('gradient: cat and stack', () =>
  gradcheck(([a, b]) => T.cat([a as Tensor, b as Tensor], 1).mul(T.stack([a as Tensor, a as Tensor], 0).sum(0).repeat([1, 2])), [[2, 3], [2, 3]]));
test('gradient: embedding', () => gradcheck(([w]) => T.embedding(w as Tensor, idx([1, 4, 1, 0], [2, 2])), [[5, 3]]));
test('gradient: layerNorm with affine', () => gradcheck(([x, w, b]) => T.layerNorm(x as Tensor, [4], w, b, 1e-5), [[3, 4], [4], [4]]));
test('gradient: crossEntropy with ignore_index and label smoothing', () =>
  gradcheck(([l]) => T.crossEntropy(l as Tensor, idx([2, -100, 0, 4]), { labelSmoothing: 0.1 }), [[4, 5]]));
test('gradient: crossEntropy sum reduction', () => gradcheck(([l]) => T.crossEntropy(l as Tensor, idx([1, 3]), { reduction: 'sum' }), [[2, 4]]));
test('gradient: conv2d', () =>
  gradcheck(([x, w, b]) => T.conv2d(x as Tensor, w as Tensor, b as Tensor, { padding: 1, stride: 2 }), [[1, 2, 5, 5], [3, 2, 3, 3], [3]]));
test('gradient: avgPool2d', () => gradcheck(([x]) => T.avgPool2d(x as Tensor, 2), [[1, 2, 4, 4]]));
test('gradient: maxPool2d', () => gradcheck(([x]) => T.maxPool2d(x as Tensor, 2, 1), [[1, 1, 4, 4]]));
test('gradient: interpolate bilinear', () => gradcheck(([x]) => T.interpolate(x as Tensor, { size: [5, 3] }), [[1, 2, 3, 4]]));
test('gradient: interpolate nearest', () => gradcheck(([x]) => T.interpolate(x as Tensor, { scaleFactor: 2, mode: 'nearest' }), [[1, 1, 2, 3]]));

// ---- further options of the ops above ----------------------------------------

const mask34 = (): Tensor => T.arange(12).remainder(3).eq(0).reshape([3, 4]);
test('gradient: maskedFill with a tensor value (w.r.t. input and value)', () =>
  gradcheck(([x, v]) => (x as Tensor).maskedFill(mask34(), v as Tensor).exp(), [[3, 4], []]));
const f64 = (v: number[]): Tensor => T.tensor(v, { dtype: 'float64' });
test('gradient: crossEntropy with class weights', () =>
  gradcheck(([l]) => T.crossEntropy(l as Tensor, idx([2, 1, 0, 4]), { weight: f64([0.5, 2, 1, 0.25, 3]) }), [[4, 5]]));
test('gradient: crossEntropy with class weights, no reduction', () =>
  gradcheck(([l]) => T.crossEntropy(l as Tensor, idx([2, 1, 0]), { weight: f64([0.5, 2, 1, 0.25]), reduction: 'none' }), [[3, 4]]));
test('gradient: crossEntropy with weights, ignore_index and label smoothing together', () =>
  gradcheck(
    ([l]) => T.crossEntropy(l as Tensor, idx([2, 7, 0, 4, 1]), { weight: f64([0.5, 2, 1, 0.25, 3]), ignoreIndex: 7, labelSmoothing: 0.2 }),
    [[5, 5]],
  ));
test('gradient: crossEntropy over [N, C, L] logits with ignore_index', () =>
  gradcheck(([l]) => T.crossEntropy(l as Tensor, idx([0, -100, 2, 1, 1, -100], [2, 3]), { labelSmoothing: 0.1 }), [[2, 3, 3]]));
test('gradient: conv2d with groups and dilation', () =>
  gradcheck(
    ([x, w, b]) => T.conv2d(x as Tensor, w as Tensor, b as Tensor, { padding: [1, 2], dilation: [2, 1], groups: 2 }),
    [[1, 4, 6, 5], [4, 2, 3, 3], [4]],
  ));
test('gradient: conv2d depthwise, stride and dilation, no bias', () =>
  gradcheck(([x, w]) => T.conv2d(x as Tensor, w as Tensor, null, { stride: 2, dilation: 2, groups: 3 }), [[2, 3, 7, 7], [3, 1, 2, 2]]));
test('gradient: interpolate bilinear alignCorners (size)', () =>
  gradcheck(([x]) => T.interpolate(x as Tensor, { size: [5, 7], alignCorners: true }), [[1, 2, 3, 4]]));
test('gradient: interpolate bilinear scaleFactor', () => gradcheck(([x]) => T.interpolate(x as Tensor, { scaleFactor: 1.5 }), [[2, 1, 4, 3]]));
test('gradient: interpolate bilinear scaleFactor with alignCorners', () =>
  gradcheck(([x]) => T.interpolate(x as Tensor, { scaleFactor: 2, alignCorners: true }), [[1, 2, 3, 3]]));
test('gradient: interpolate nearest downsampling scaleFactor', () =>
  gradcheck(([x]) => T.interpolate(x as Tensor, { scaleFactor: 0.5, mode: 'nearest' }), [[1, 2, 4, 6]]));

// ---- dropout: random, so checked analytically ---------------------------------

/**
 * y = dropout(x, p) in training mode: d sum(y * w)/dx = w * (y != 0) / (1 - p),
 * kept elements are x / (1 - p), and about 1 - p of them are kept. x has no zeros,
 * so y != 0 is exactly the kept mask. Where 1 / (1 - p) is a power of two the
 * gradient is compared bit for bit; otherwise to within one rounding (the aten
 * kernel multiplies by 1 / (1 - p), the seeded path divides by 1 - p).
 */
function checkDropout(p: number, seed?: number): void {
  T.scope(() => {
    const n = 20_000;
    const x = awayFromZero(T.randn([200, 100], { dtype: 'float64', seed: 1 })).detach().requiresGrad_();
    const w = T.randn([200, 100], { dtype: 'float64', seed: 2 });
    const y = T.dropout(x, p, true, seed);
    const [g] = T.grad(y.mul(w).sum(), [x]);
    const kept = y.ne(0);
    const got = (g as Tensor).toNumbers();
    const want = w.mul(kept).div(1 - p).toNumbers();
    const exact = Number.isInteger(Math.log2(1 / (1 - p)));
    const ys = y.detach().toNumbers();
    const xs = x.detach().toNumbers();
    for (let i = 0; i < n; i++) {
      const [a, b] = [got[i] as number, want[i] as number];
      if (exact) assert.equal(a, b, `p=${p} element ${i}: gradient ${a}, expected ${b}`);
      else assert.ok(Math.abs(a - b) <= Number.EPSILON * Math.abs(b), `p=${p} element ${i}: gradient ${a}, expected ${b}`);
      const yi = ys[i] as number;
      const xi = (xs[i] as number) / (1 - p);
      if (yi !== 0) assert.ok(Math.abs(yi - xi) <= Number.EPSILON * Math.abs(xi), `p=${p} element ${i}: kept value ${yi}, expected ${xi}`);
    }
    const frac = kept.to('float64').mean().item();
    // binomial standard deviation sqrt(p (1 - p) / n) <= 0.0036; allow six of them
    assert.ok(Math.abs(frac - (1 - p)) < 0.022, `p=${p}: kept fraction ${frac}, expected about ${1 - p}`);
  });
}

for (const p of [0.5, 0.75, 0.3, 0.1]) {
  test(`dropout p=${p}: gradient is w * mask / (1 - p), kept fraction near 1 - p`, () => checkDropout(p));
  test(`dropout p=${p} seeded: gradient is w * mask / (1 - p), kept fraction near 1 - p`, () => checkDropout(p, 17));
}

test('dropout: the same seed gives the same mask; evaluation mode and p = 0 are the identity', () => {
  T.scope(() => {
    const x = T.randn([50, 40], { dtype: 'float64', seed: 3 });
    assert.deepEqual(T.dropout(x, 0.4, true, 9).toNumbers(), T.dropout(x, 0.4, true, 9).toNumbers());
    assert.notDeepEqual(T.dropout(x, 0.4, true, 9).toNumbers(), T.dropout(x, 0.4, true, 10).toNumbers());
    const xg = x.detach().requiresGrad_();
    for (const y of [T.dropout(xg, 0.4, false), T.dropout(xg, 0, true)]) {
      assert.deepEqual(y.toNumbers(), x.toNumbers());
      const [g] = T.grad(y.mul(2).sum(), [xg]);
      assert.deepEqual((g as Tensor).toNumbers(), new Array<number>(2000).fill(2));
    }
  });
});

test('dropout p = 1 drops everything (zeros, zero gradient), seeded or not', () => {
  T.scope(() => {
    for (const seed of [undefined, 4]) {
      const x = T.randn([6], { dtype: 'float64', seed: 1 }).requiresGrad_();
      const y = T.dropout(x, 1, true, seed);
      assert.ok(y.toNumbers().every((v) => v === 0), `seed ${seed}: ${y.toNumbers().join(', ')}`); // -0 where x < 0, as x * 0 in PyTorch
      const [g] = T.grad(y.sum(), [x], { allowUnused: true });
      assert.deepEqual(g ? g.toNumbers() : new Array<number>(6).fill(0), new Array<number>(6).fill(0), `seed ${seed}`);
    }
  });
});
