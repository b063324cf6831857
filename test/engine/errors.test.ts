// Bad arguments to every public op family give an Error naming the op (and the
// shapes) — never an abort of the process: hand-picked bad shapes and values, then a
// generated sweep of every public op × {disposed, foreign, other-device, other-dtype,
// empty, 0-dim, extra-dim} tensor arguments, then autograd, optimisers, safetensors
// and creation functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/engine/index.js';
import type { DType, Device, Tensor } from '../../src/engine/index.js';
import type { Handle } from '../../src/engine/native.js';
import { generatorFor } from '../../src/engine/random.js';

type Case = [string, () => unknown, RegExp];

function families(): Case[] {
  const a = T.ones([2, 3]);
  const b = T.ones([4, 5]);
  const i = T.tensor([0, 9], { dtype: 'int64' });
  const f = T.tensor([0.5]);
  const gone = T.ones([2]);
  gone.dispose();
  const notATensor = { handle: 'nope' } as unknown as Tensor;
  const img = T.ones([1, 2, 4, 4]);
  const kern = T.ones([3, 2, 3, 3]);
  const i0 = T.tensor([0], { dtype: 'int64' });
  return [
    ['arithmetic shapes', () => a.add(b), /aten::add\.Tensor\(\[2,3\] Float cpu, \[4,5\] Float cpu\)/],
    ['comparison shapes', () => a.lt(b), /aten::lt\.Tensor/],
    ['where shapes', () => T.where(a.gt(0), a, b), /aten::where/],
    ['matmul shapes', () => a.matmul(a), /aten::matmul\(\[2,3\] Float cpu, \[2,3\] Float cpu\)/],
    ['bmm rank', () => a.bmm(a), /aten::bmm/],
    ['linear shapes', () => T.linear(a, b), /aten::linear/],
    ['reshape numel', () => a.reshape([4]), /aten::reshape\(\[2,3\] Float cpu\).*invalid for input of size 6/],
    ['view numel', () => a.view([7]), /aten::view/],
    ['permute dims', () => a.permute([0]), /aten::permute/],
    ['dim out of range', () => a.sum(5), /aten::sum\.dim_IntList.*Dimension out of range/],
    ['softmax dim', () => a.softmax(3), /aten::softmax/],
    ['narrow range', () => a.narrow(1, 2, 5), /aten::narrow/],
    ['cat shapes', () => T.cat([a, b], 0), /aten::cat/],
    ['stack shapes', () => T.stack([a, b]), /aten::stack/],
    ['index out of range', () => a.indexSelect(0, i), /aten::index_select/],
    ['gather dtype', () => a.gather(1, a), /aten::gather/],
    ['embedding index dtype', () => T.embedding(a, f), /aten::embedding/],
    ['embedding index range', () => T.embedding(a, i), /aten::embedding|index out of range/],
    ['cross entropy target dtype', () => T.crossEntropy(a, f), /aten::cross_entropy_loss/],
    ['cross entropy class range', () => T.crossEntropy(a, i), /aten::cross_entropy_loss/],
    ['conv2d rank', () => T.conv2d(a, a), /aten::conv2d/],
    ['pool rank', () => T.maxPool2d(T.ones([2]), 2), /aten::max_pool2d/],
    ['interpolate rank', () => T.interpolate(a, { size: [4, 4] }), /aten::upsample_bilinear2d/],
    ['layer norm shape', () => T.layerNorm(a, [5]), /aten::layer_norm/],
    ['topk k', () => a.topk(9), /aten::topk/],
    ['multinomial negative', () => T.multinomial(T.tensor([[-1, 1]]), 1), /aten::multinomial/],
    ['int tensor into float op', () => T.tensor([1], { dtype: 'int64' }).softmax(0), /aten::softmax/],
    ['cuda device without cuda', () => T.zeros([2], { device: 'cuda:7' }), /aten::zeros|CUDA|cuda/i],
    ['move to missing device', () => a.to({ device: 'cuda:7' }), /aten::_to_copy/],
    ['disposed tensor', () => gone.add(1), /aten::add\.Scalar.*tensor was disposed/],
    ['disposed in list', () => T.cat([a, gone]), /aten::cat.*tensor was disposed/],
    ['disposed read', () => gone.toArray(), /meta: tensor: tensor was disposed/],
    ['foreign object', () => a.add(notATensor), /aten::add\.Tensor.*expected a tensor/],
    ['negative shape', () => T.zeros([-1]), /shape must be an array of non-negative integers/],
    ['fractional int arg', () => a.sum(0.5), /expected an integer/],
    ['bad dtype name', () => a.to('float8' as 'float32'), /unknown dtype 'float8'/],
    ['backward of non-scalar', () => a.requiresGrad_().mul(2).backward(), /backward/],
    ['grad without requiresGrad', () => T.grad(T.ones([1]).sum(), T.ones([1])), /autograd\.grad/],
    ['item of many', () => a.item(), /aten::item/],
    ['fromBytes length', () => T.tensor(new Float32Array(3), { shape: [2, 2] }), /fromBytes: data has 12 bytes, shape needs 16/],
    ['ragged nested array', () => T.tensor([[1, 2], [3]] as number[][]), /ragged/],
    ['setNumThreads', () => T.setNumThreads(0), /positive integer/],
    // zero and negative sizes, strides and counts (divisors inside the kernels)
    ['conv2d stride 0', () => T.conv2d(img, kern, null, { stride: 0 }), /aten::conv2d.*stride/],
    ['conv2d dilation 0', () => T.conv2d(img, kern, null, { dilation: 0 }), /aten::conv2d.*dilation/],
    ['conv2d groups 0', () => T.conv2d(img, kern, null, { groups: 0 }), /aten::conv2d.*groups/],
    ['conv2d groups not dividing channels', () => T.conv2d(img, kern, null, { groups: 3 }), /aten::conv2d/],
    ['conv2d negative padding', () => T.conv2d(img, kern, null, { padding: -1 }), /aten::conv2d.*padding/],
    ['conv2d kernel larger than input', () => T.conv2d(img, T.ones([3, 2, 9, 9])), /aten::conv2d/],
    ['avgPool2d kernel 0', () => T.avgPool2d(img, 0), /aten::avg_pool2d/],
    ['avgPool2d stride 0', () => T.avgPool2d(img, 2, 0), /aten::avg_pool2d/],
    ['maxPool2d stride 0', () => T.maxPool2d(img, 2, 0), /aten::max_pool2d/],
    ['maxPool2d padding over half the kernel', () => T.maxPool2d(img, 2, 2, 5), /aten::max_pool2d/],
    ['interpolate scale 0', () => T.interpolate(img, { scaleFactor: 0 }), /aten::upsample_bilinear2d/],
    ['interpolate scale NaN', () => T.interpolate(img, { scaleFactor: NaN }), /aten::upsample_bilinear2d/],
    ['interpolate empty input', () => T.interpolate(T.ones([1, 2, 0, 4]), { size: [3, 3] }), /aten::upsample_bilinear2d/],
    ['split size 0', () => a.split(0), /aten::split/],
    ['chunk 0', () => a.chunk(0), /aten::chunk/],
    ['repeat negative', () => a.repeat([-1, 1]), /aten::repeat/],
    ['expand negative', () => a.expand([-2, 3]), /aten::expand/],
    ['slice step 0', () => a.slice(0, 0, 2, 0), /aten::slice/],
    ['select out of range', () => a.select(0, 5), /aten::select/],
    ['topk negative k', () => a.topk(-1), /aten::topk/],
    ['max of empty', () => T.zeros([0]).max(), /aten::max/],
    ['argmax of empty', () => T.zeros([0]).argmax(), /aten::argmax/],
    ['multinomial all zero', () => T.multinomial(T.zeros([2, 3]), 1), /aten::multinomial/],
    ['multinomial NaN', () => T.multinomial(T.tensor([[NaN, 1]]), 1), /aten::multinomial/],
    ['multinomial too many without replacement', () => T.multinomial(T.ones([2, 3]), 4), /aten::multinomial/],
    ['gather index out of range', () => a.gather(1, T.tensor([[5]], { dtype: 'int64' })), /aten::gather/],
    ['scatter index out of range', () => a.scatter(1, T.tensor([[2 ** 40]], { dtype: 'int64' }), 1), /aten::scatter/],
    ['index out of range', () => a.index([T.tensor([2 ** 40], { dtype: 'int64' })]), /aten::index/],
    ['too many indices', () => a.index([i0, i0, i0]), /aten::index/],
    ['cross entropy class weights of the wrong size', () => T.crossEntropy(a, T.tensor([0, 1], { dtype: 'int64' }), { weight: T.ones([2]) }), /aten::cross_entropy_loss/],
    ['integer remainder by 0', () => T.tensor([5, 7], { dtype: 'int64' }).remainder(0), /aten::remainder.*ZeroDivisionError/],
    ['integer power negative', () => T.tensor([5], { dtype: 'int64' }).pow(-1), /aten::pow/],
    ['in-place into an expanded view', () => T.ones([1, 3]).expand([2, 3]).add_(1), /aten::add_/],
    ['in-place broadcast to a larger shape', () => a.add_(T.ones([4, 2, 3])), /aten::add_/],
    ['copy_ of another shape', () => a.copy_(T.ones([3, 2])), /aten::copy_/],
    ['cat of nothing', () => T.cat([]), /aten::cat/],
    ['device index beyond int32', () => T.zeros([2], { device: 'cuda:2147483648' as Device }), /aten::zeros/],
  ];
}

/** Asserts that fn throws an Error (not some other value) whose message matches every pattern. */
function throwsError(fn: () => unknown, what: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error, `${what}: threw a non-Error ${String(e)}`);
    for (const re of patterns) assert.match(e.message, re, `${what}: ${e.message}`);
    return true;
  }, what);
}

test('no op crashes the process on bad arguments', () => {
  T.scope(() => {
    for (const [name, fn, re] of families()) throwsError(fn, name, re);
  });
  // the process and the engine still work afterwards
  assert.deepEqual(T.scope(() => T.ones([2]).add(1).toNumbers()), [2, 2]);
});

// ---- the sweep: every public op × every kind of bad tensor argument -------------
//
// Each entry is an op with valid arguments. A tensor argument is a TArg (made
// fresh for each call), anywhere in the argument tree (lists too). For each TArg
// in turn the sweep substitutes:
//   - the same tensor disposed                → Error naming the op and "tensor was disposed"
//   - foreign objects posing as tensors       → Error naming the op and "expected a tensor"
//   - the tensor on another device (meta, and cuda where there is one),
//     in every other dtype, empty, 0-dim, with an extra dim
//                                             → a result, or an Error naming the op
// and `refuse` lists the substitutions the op must refuse with an Error (a float
// where an index is needed, a bool or integer where a float is needed, another
// device next to a CPU tensor, ...).

class TArg {
  constructor(readonly make: () => Tensor) {}
}
const fl = (...shape: number[]): TArg => new TArg(() => T.randn(shape, { seed: 1 }));
const pos = (...shape: number[]): TArg => new TArg(() => T.rand(shape, { seed: 2 }).add(0.5));
const ix = (high: number, ...shape: number[]): TArg => new TArg(() => T.randint(0, high, shape, { seed: 3 }));
const bl = (...shape: number[]): TArg => new TArg(() => T.randn(shape, { seed: 4 }).gt(0));
const scalarT = new TArg(() => T.tensor(0.5));

interface Spec {
  label: string;
  /** The native op its errors must name. */
  aten: RegExp;
  fn: (...args: unknown[]) => unknown;
  args: unknown[];
  /** Substitutions (variant names, '@k' for the k-th tensor argument) that must throw. */
  refuse?: string[];
}
type Methods = Record<string, (...a: unknown[]) => unknown>;

const atenOf = (method: string): string => method.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** A Tensor method; the native op defaults to the method name in snake case. */
function M(method: string, self: TArg, args: unknown[] = [], o: { aten?: string; label?: string; refuse?: string[] } = {}): Spec {
  return {
    label: o.label ?? method,
    aten: new RegExp(`aten::${(o.aten ?? atenOf(method)).replace(/\./g, '\\.')}\\b`),
    fn: (s, ...a) => {
      const f = (s as Methods)[method];
      if (typeof f !== 'function') throw new TypeError(`the table names no Tensor method '${method}'`);
      return f.apply(s, a);
    },
    args: [self, ...args],
    ...(o.refuse ? { refuse: o.refuse } : {}),
  };
}
/** A function of the engine (functional.ts, creation.ts). */
function F(label: string, aten: string, fn: (...a: never[]) => unknown, args: unknown[], refuse?: string[]): Spec {
  return { label, aten: new RegExp(`aten::${aten.replace(/\./g, '\\.')}\\b`), fn: fn as Spec['fn'], args, ...(refuse ? { refuse } : {}) };
}

const binaryNames = ['add', 'sub', 'mul', 'div', 'remainder', 'pow', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
const unaryNames = ['neg', 'abs', 'sign', 'exp', 'log', 'sqrt', 'rsqrt', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'gelu', 'silu'];

// What an op must refuse: `needFloat(k)` a bool or int64 k-th tensor, `needIndex(k)` a
// float one, `needBool(k)` a float condition, `sameDevice(...)` those tensors on another
// device than the CPU tensors beside them.
const needFloat = (...ks: number[]): string[] => ks.flatMap((k) => [`dtype bool@${k}`, `dtype int64@${k}`]);
const needIndex = (...ks: number[]): string[] => ks.flatMap((k) => [`dtype float32@${k}`, `dtype float64@${k}`]);
const needBool = (...ks: number[]): string[] => ks.flatMap((k) => [`dtype float32@${k}`]);
const sameDevice = (...ks: number[]): string[] => ks.flatMap((k) => otherDevices().map((d) => `device ${d}@${k}`));

function specs(): Spec[] {
  const a = fl(2, 3);
  const b = fl(2, 3);
  const both = sameDevice(0, 1);
  return [
    // arithmetic and comparisons, tensor and scalar forms
    ...binaryNames.map((m) =>
      M(m, pos(2, 3), [pos(2, 3)], { aten: m === 'pow' ? 'pow.Tensor_Tensor' : `${m}.Tensor`, label: `${m} tensor`, refuse: both }),
    ),
    ...binaryNames.map((m) => M(m, pos(2, 3), [2], { aten: m === 'pow' ? 'pow.Tensor_Scalar' : `${m}.Scalar`, label: `${m} scalar` })),
    M('sub', a, [b], { aten: 'sub.Tensor', label: 'sub bools', refuse: ['dtype bool@0'] }),
    M('add', a, [b, 2], { aten: 'add.Tensor', label: 'add alpha', refuse: both }),
    ...['maximum', 'minimum', 'logicalAnd', 'logicalOr', 'equal', 'allclose'].map((m) => M(m, a, [b], { refuse: both })),
    M('matmul', fl(2, 3), [fl(3, 4)], { refuse: needFloat(0, 1) }),
    M('bmm', fl(2, 2, 3), [fl(2, 3, 4)], { refuse: needFloat(0, 1) }),
    M('clamp', a, [-0.5, 0.5]),
    // unary math
    ...unaryNames.map((m) => M(m, a, [], ['gelu', 'silu'].includes(m) ? { refuse: needFloat(0) } : m === 'neg' || m === 'abs' ? { refuse: ['dtype bool@0'] } : {})),
    M('gelu', a, ['tanh'], { label: 'gelu tanh', refuse: needFloat(0) }),
    M('logicalNot', a),
    M('softmax', a, [1], { aten: 'softmax.int', refuse: needFloat(0) }),
    M('logSoftmax', a, [1], { aten: 'log_softmax.int', refuse: needFloat(0) }),
    // conversions and copies
    M('to', a, ['float64'], { aten: '_to_copy', label: 'to dtype' }),
    M('to', a, [{ device: 'cpu' }], { aten: '_to_copy', label: 'to device' }),
    M('float', a, [], { aten: '_to_copy' }),
    M('cpu', a, [], { aten: '_to_copy' }),
    ...['clone', 'contiguous', 'detach'].map((m) => M(m, a)),
    M('item', fl(1), [], { refuse: ['device meta@0'] }),
    // reductions
    M('sum', a, [], { label: 'sum all' }),
    M('sum', a, [1, true], { aten: 'sum.dim_IntList', label: 'sum dim' }),
    M('mean', a, [], { label: 'mean all', refuse: needFloat(0) }),
    M('mean', a, [[0, 1]], { aten: 'mean.dim', label: 'mean dims', refuse: needFloat(0) }),
    M('var', a, [1], { aten: 'var.correction', refuse: needFloat(0) }),
    M('std', a, [], { aten: 'std.correction', refuse: needFloat(0) }),
    M('norm', a, [2, 1], { aten: 'linalg_vector_norm', refuse: needFloat(0) }),
    M('norm', a, [Infinity], { aten: 'linalg_vector_norm', label: 'norm inf', refuse: needFloat(0) }),
    M('max', a, [], { label: 'max all' }),
    M('max', a, [1], { aten: 'max.dim', label: 'max dim' }),
    M('min', a, [], { label: 'min all' }),
    M('min', a, [0, true], { aten: 'min.dim', label: 'min dim' }),
    M('argmax', a, [1], { refuse: ['dtype bool@0'] }),
    M('argmin', a),
    M('logsumexp', a, [1]),
    M('topk', a, [2, 1]),
    M('sort', a, [1, true]),
    M('cumsum', a, [1]),
    M('any', bl(2, 3)),
    M('all', bl(2, 3)),
    // shape
    M('reshape', a, [[3, 2]]),
    M('view', a, [[6]]),
    M('flatten', a, [], { aten: 'flatten.using_ints' }),
    M('permute', a, [[1, 0]]),
    M('transpose', a, [0, 1], { aten: 'transpose.int' }),
    { label: 'T', aten: /aten::numpy_T\b/, fn: (s) => (s as Tensor).T, args: [a] },
    M('squeeze', fl(1, 3)),
    M('squeeze', fl(1, 3), [0], { aten: 'squeeze.dim', label: 'squeeze dim' }),
    M('unsqueeze', a, [0]),
    M('expand', fl(1, 3), [[4, 3]]),
    M('repeat', a, [[2, 1]]),
    M('narrow', a, [1, 0, 2]),
    M('slice', a, [1, 0, 3, 2], { aten: 'slice.Tensor' }),
    M('select', a, [0, 1], { aten: 'select.int' }),
    M('split', a, [2, 1], { aten: 'split.Tensor' }),
    M('chunk', a, [2, 1]),
    M('flip', a, [0]),
    M('roll', a, [1, 0]),
    M('triu', a),
    M('tril', a, [-1]),
    M('nonzero', a),
    // indexing
    M('indexSelect', a, [0, ix(2, 3)], { refuse: needIndex(1) }),
    M('gather', a, [1, ix(3, 2, 2)], { refuse: needIndex(1) }),
    M('scatter', a, [1, ix(3, 2, 2), fl(2, 2)], { aten: 'scatter.src', label: 'scatter src', refuse: needIndex(1) }),
    M('scatter', a, [1, ix(3, 2, 2), 0.5], { aten: 'scatter.value', label: 'scatter value', refuse: needIndex(1) }),
    M('index', a, [[ix(2, 4), null]], { aten: 'index.Tensor', refuse: needIndex(1) }),
    M('index', a, [[bl(2, 3)]], { aten: 'index.Tensor', label: 'index bool mask', refuse: needIndex(1) }),
    M('maskedFill', a, [bl(2, 3), 0.5], { aten: 'masked_fill.Scalar', label: 'maskedFill scalar' }),
    M('maskedFill', a, [bl(2, 3), scalarT], { aten: 'masked_fill.Tensor', label: 'maskedFill tensor' }),
    F('where', 'where.self', T.where, [bl(2, 3), a, b], [...needBool(0), ...sameDevice(1, 2)]),
    F('where scalar other', 'where.ScalarOther', T.where, [bl(2, 3), a, 0], needBool(0)),
    F('where scalar self', 'where.ScalarSelf', T.where, [bl(2, 3), 0, b], needBool(0)),
    F('where scalars', 'where.Scalar', T.where, [bl(2, 3), 1, 0], needBool(0)),
    // in place
    M('add_', a, [b], { aten: 'add_.Tensor', label: 'add_ tensor', refuse: [...needFloat(0), ...sameDevice(1)] }),
    M('add_', a, [1], { aten: 'add_.Scalar', label: 'add_ scalar', refuse: ['dtype bool@0'] }),
    M('mul_', a, [b], { aten: 'mul_.Tensor', refuse: [...needFloat(0), ...sameDevice(1)] }),
    M('div_', a, [pos(2, 3)], { aten: 'div_.Tensor', refuse: [...needFloat(0), ...sameDevice(1)] }),
    M('addcmul_', a, [b, fl(2, 3), 0.5], { refuse: needFloat(0) }),
    M('addcdiv_', a, [b, pos(2, 3), 0.5], { refuse: needFloat(0) }),
    M('copy_', a, [b]),
    M('zero_', a),
    M('fill_', a, [2], { aten: 'fill_.Scalar' }),
    M('sqrt_', pos(2, 3), [], { refuse: needFloat(0) }),
    M('clamp_', a, [0, 1], { refuse: ['dtype bool@0'] }),
    // functional.ts
    F('linear', 'linear', T.linear, [fl(2, 3), fl(4, 3), fl(4)], needFloat(0, 1, 2)),
    F('embedding', 'embedding', T.embedding, [fl(5, 3), ix(5, 2, 2)], needIndex(1)),
    F('layerNorm', 'layer_norm', T.layerNorm, [a, [3], fl(3), fl(3)], needFloat(0, 1, 2)),
    F('conv2d', 'conv2d', T.conv2d, [fl(1, 2, 5, 5), fl(3, 2, 3, 3), fl(3), { padding: 1 }], needFloat(0, 1, 2)),
    F('avgPool2d', 'avg_pool2d', T.avgPool2d, [fl(1, 2, 4, 4), 2], ['dtype bool@0']),
    F('maxPool2d', 'max_pool2d', T.maxPool2d, [fl(1, 2, 4, 4), 2], needFloat(0)),
    F('interpolate bilinear', 'upsample_bilinear2d.vec', T.interpolate, [fl(1, 2, 3, 3), { size: [5, 4] }], needFloat(0)),
    F('interpolate nearest', 'upsample_nearest2d.vec', T.interpolate, [fl(1, 2, 3, 3), { scaleFactor: 2, mode: 'nearest' }], needFloat(0)),
    F('dropout', 'dropout', T.dropout, [a, 0.5, true], needFloat(0)),
    F('dropout seeded', 'bernoulli.p', T.dropout, [a, 0.5, true, 3]),
    F('cosineSimilarity', 'cosine_similarity', T.cosineSimilarity, [a, b]),
    F('crossEntropy', 'cross_entropy_loss', T.crossEntropy, [fl(4, 5), ix(5, 4)], [...needFloat(0), ...needIndex(1)]),
    F('crossEntropy weighted', 'cross_entropy_loss', T.crossEntropy, [fl(4, 5), ix(5, 4), { weight: pos(5), labelSmoothing: 0.1 }], [
      ...needFloat(0, 2),
      ...needIndex(1),
    ]),
    F('cat', 'cat', T.cat, [[a, b], 1]),
    F('stack', 'stack', T.stack, [[a, b]]),
    F('multinomial', 'multinomial', T.multinomial, [pos(2, 3), 2], needFloat(0)),
    F('multinomial seeded', 'multinomial', T.multinomial, [pos(2, 3), 2, true, 5], needFloat(0)),
    F('matmul', 'matmul', T.matmul, [fl(2, 3), fl(3)], needFloat(0, 1)),
    F('zerosLike', 'zeros_like', T.zerosLike, [a]),
    F('onesLike', 'ones_like', T.onesLike, [a]),
  ];
}

/** Objects posing as tensors whose handle is not a live tensor handle. */
function foreigners(): Array<[string, Tensor]> {
  const fake = (h: unknown): Tensor => Object.create(T.Tensor.prototype, { handle: { value: h as Handle } }) as Tensor;
  return [
    ['a plain object', fake({})],
    ['a generator handle', fake(generatorFor(1))],
    ['a number', fake(7)],
    ['a string', fake('tensor')],
  ];
}

let devices: string[] | undefined;
/** The devices a tensor can be moved to besides the CPU: meta always, cuda and cuda:7 where they exist. */
function otherDevices(): string[] {
  if (devices) return devices;
  const out = ['meta'];
  if (T.cudaAvailable()) out.push('cuda');
  const seven = T.scope(() => {
    try {
      T.zeros([1], { device: 'cuda:7' });
      return true;
    } catch (e) {
      assert.ok(e instanceof Error);
      return false;
    }
  });
  if (seven) out.push('cuda:7');
  devices = out;
  return out;
}

type Variant = [name: string, make: (valid: Tensor) => Tensor | null];
function variants(): Variant[] {
  return [
    ...otherDevices().map((d): Variant => [`device ${d}`, (v) => v.to({ device: d as Device })]),
    ...T.DTYPES.map((d): Variant => [`dtype ${d}`, (v) => (v.dtype === d ? null : v.to(d))]),
    ['empty', (v) => (v.ndim > 0 ? v.narrow(0, 0, 0) : null)],
    ['0-dim', (v) => (v.ndim > 0 ? v.reshape([-1]).select(0, 0) : null)],
    ['extra dim', (v) => v.unsqueeze(0)],
  ];
}

/** Builds the argument tree, replacing the k-th TArg by sub(valid tensor) when k === which. */
function build(args: unknown[], which: number, sub: (t: Tensor) => unknown): { args: unknown[]; count: number } {
  let k = 0;
  const walk = (x: unknown): unknown => {
    if (x instanceof TArg) {
      const t = x.make();
      return k++ === which ? sub(t) : t;
    }
    if (Array.isArray(x)) return x.map(walk);
    if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
      return Object.fromEntries(Object.entries(x).map(([key, v]) => [key, walk(v)]));
    }
    return x;
  };
  const out = args.map(walk);
  return { args: out, count: k };
}

/** Runs fn; returns null when the call's outcome is acceptable, else what is wrong. */
function judge(fn: () => unknown, aten: RegExp, mustThrow: boolean, also?: RegExp): string | null {
  let err: unknown;
  try {
    fn();
    return mustThrow ? 'returned a result instead of throwing' : null;
  } catch (e) {
    err = e;
  }
  if (!(err instanceof Error)) return `threw a non-Error: ${String(err)}`;
  if (!aten.test(err.message) || (also && !also.test(err.message))) return `message does not name ${aten.source}${also ? ` and ${also.source}` : ''}: ${err.message.slice(0, 300)}`;
  return null;
}

test('sweep: every public op refuses disposed, foreign, wrong-device and wrong-dtype tensors with an Error', () => {
  const vs = variants();
  const fakes = foreigners();
  const failures: string[] = [];
  let calls = 0;
  const check = (what: string, f: () => string | null): void => {
    calls++;
    const r = T.scope(f);
    if (r) failures.push(`${what}: ${r}`);
  };
  for (const s of specs()) {
    // the valid call works, so a failure below comes from the substituted argument
    const n = T.scope(() => {
      const { args, count } = build(s.args, -1, (t) => t);
      assert.doesNotThrow(() => s.fn(...args), `${s.label}: the valid call fails`);
      return count;
    });
    const refuse = new Set(s.refuse ?? []);
    const unused = new Set(refuse);
    for (let k = 0; k < n; k++) {
      const at = `${s.label} @${k}`;
      check(`${at} disposed`, () => {
        const { args } = build(s.args, k, (t) => (t.dispose(), t));
        return judge(() => s.fn(...args), s.aten, true, /tensor was disposed/);
      });
      for (const [what, fake] of fakes) {
        check(`${at} ${what}`, () => judge(() => s.fn(...build(s.args, k, () => fake).args), s.aten, true, /expected a tensor/));
      }
      for (const [name, make] of vs) {
        check(`${at} ${name}`, () => {
          let skip = false;
          const { args } = build(s.args, k, (t) => {
            const r = make(t);
            skip = r === null;
            return r;
          });
          if (skip) return null;
          unused.delete(`${name}@${k}`);
          return judge(() => s.fn(...args), s.aten, refuse.has(`${name}@${k}`));
        });
      }
    }
    // a refusal that names no substitution made (a typo, or the valid argument already has that dtype) checks nothing
    for (const u of unused) failures.push(`${s.label}: refuse entry '${u}' matches no substitution`);
  }
  const rest = failures;
  if (rest.length) assert.fail(`${rest.length} of ${calls} calls misbehaved:\n${rest.join('\n')}`);
});

// ---- the families outside Tensor and functional.ts -------------------------------

/** Bad stand-ins for a tensor argument: disposed, foreign objects, another device. */
function badTensors(valid: () => Tensor): Array<[string, () => Tensor, RegExp]> {
  return [
    ['disposed', () => { const t = valid(); t.dispose(); return t; }, /tensor was disposed/],
    ...foreigners().map(([what, t]): [string, () => Tensor, RegExp] => [what, () => t, /expected a tensor/]),
  ];
}

test('autograd: grad, backward, .grad and requiresGrad_ refuse bad tensors with an Error', () => {
  const failures: string[] = [];
  const expect = (what: string, fn: () => unknown, ...res: RegExp[]): void => {
    const r = T.scope(() => judge(fn, res[0] as RegExp, true, res[1]));
    if (r) failures.push(`${what}: ${r}`);
  };
  const leaf = (): Tensor => T.randn([2, 3], { seed: 1 }).requiresGrad_();
  for (const [what, bad, re] of badTensors(() => T.ones([2, 3]))) {
    expect(`grad with ${what} output`, () => T.grad(bad(), [leaf()]), /^autograd\.grad: autograd\.grad outputs/, re);
    expect(`grad with ${what} input`, () => T.grad(leaf().mul(2).sum(), [leaf(), bad()]), /^autograd\.grad: autograd\.grad inputs/, re);
    expect(`grad with ${what} gradOutput`, () => { const x = leaf(); return T.grad(x.mul(2), [x], { gradOutputs: [bad()] }); }, /^autograd\.grad/, re);
    expect(`backward of ${what}`, () => bad().backward(), /^backward/, re);
    expect(`backward with ${what} gradient`, () => leaf().mul(2).backward(bad()), /^backward/, re);
    expect(`requiresGrad_ of ${what}`, () => bad().requiresGrad_(), /^setRequiresGrad/, re);
    expect(`.grad of ${what}`, () => bad().grad, /^grad/, re);
    expect(`.grad = ${what}`, () => { leaf().grad = bad(); }, /^setGrad/, re);
    expect(`.grad of ${what} set`, () => { bad().grad = T.ones([2, 3]); }, /^setGrad/, re);
    expect(`zeroGrad of ${what}`, () => bad().zeroGrad(), /^setGrad/, re);
    expect(`isLeaf of ${what}`, () => bad().isLeaf, /^isLeaf/, re);
  }
  for (const d of otherDevices()) {
    const other = (): Tensor => T.ones([2, 3], { device: d as Device });
    expect(`grad with a ${d} gradOutput`, () => { const x = leaf(); return T.grad(x.mul(2), [x], { gradOutputs: [other()] }); }, /^autograd\.grad: .*device/);
    expect(`backward with a ${d} gradient`, () => leaf().mul(2).backward(other()), /^backward: .*device/);
    expect(`.grad = a ${d} tensor`, () => { leaf().grad = other(); }, /^setGrad: .*does not match/);
  }
  expect('grad with a wrong-shape gradOutput', () => { const x = leaf(); return T.grad(x.mul(2), [x], { gradOutputs: [T.ones([3])] }); }, /^autograd\.grad: .*shape/);
  expect('backward with a wrong-shape gradient', () => leaf().mul(2).backward(T.ones([3])), /^backward: .*shape/);
  expect('.grad = a wrong shape', () => { leaf().grad = T.ones([3]); }, /^setGrad: .*does not match/);
  expect('.grad = a wrong dtype', () => { leaf().grad = T.ones([2, 3], { dtype: 'float64' }); }, /^setGrad: .*does not match/);
  expect('requiresGrad_ of an int64 tensor', () => T.ones([2], { dtype: 'int64' }).requiresGrad_(), /^setRequiresGrad: .*floating point/);
  expect('backward without a graph', () => T.ones([1]).sum().backward(), /^backward: .*does not require grad/);
  expect('backward twice', () => { const y = leaf().exp().sum(); y.backward(); y.backward(); }, /^backward: .*second time/);
  expect('grad of an unused input', () => T.grad(leaf().sum(), [leaf()]), /^autograd\.grad: .*not have been used/);
  expect('grad with too few gradOutputs', () => { const x = leaf(); return T.grad(x.mul(2), [x], { gradOutputs: [] }); }, /^autograd\.grad/);
  if (failures.length) assert.fail(failures.join('\n'));
});

test('optimisers: step, zeroGrad and clipGradNorm with a disposed or foreign parameter throw an Error', () => {
  const withGrad = (): Tensor => {
    const p = T.randn([3], { seed: 1 }).requiresGrad_();
    p.mul(p).sum().backward();
    return p;
  };
  const makers: Array<[string, (ps: Tensor[]) => { step(): void; zeroGrad(): void }]> = [
    ['SGD', (ps) => new T.optim.SGD(ps, { momentum: 0.9, weightDecay: 0.1 })],
    ['AdamW', (ps) => new T.optim.AdamW(ps)],
  ];
  T.scope(() => {
    for (const [name, make] of makers) {
      for (const [what, bad, re] of badTensors(withGrad)) {
        throwsError(() => make([withGrad(), bad()]).step(), `${name} step with a ${what} parameter`, /^grad: /, re);
        throwsError(() => make([bad()]).zeroGrad(), `${name} zeroGrad with a ${what} parameter`, /^setGrad: /, re);
      }
      throwsError(() => {
        const p = withGrad();
        const o = make([p]);
        o.step(); // now the optimiser holds state for p
        p.dispose();
        o.step();
      }, `${name} step after its parameter was disposed`, /^grad: .*tensor was disposed/);
    }
    for (const [what, bad, re] of badTensors(withGrad)) {
      throwsError(() => T.optim.clipGradNorm([withGrad(), bad()], 1), `clipGradNorm with a ${what} parameter`, /^grad: /, re);
    }
  });
});

test('safetensors: saving a disposed, foreign or meta tensor throws an Error and leaves no file behind', () => {
  T.scope(() => {
    const dir = mkdtempSync(join(tmpdir(), 'bdlab-errors-'));
    const bads: Array<[string, () => Tensor, RegExp]> = [
      ...badTensors(() => T.ones([2])),
      ['meta', () => T.ones([2], { device: 'meta' as Device }), /meta/],
    ];
    // the save refuses before writing, naming the file and the tensor
    const refused = /tensor '[bw]': (was disposed|not a tensor|a meta tensor has no data)$/;
    for (const [what, bad] of bads) {
      const file = join(dir, `${what.replace(/ /g, '-')}.safetensors`);
      throwsError(() => T.saveSafetensors(file, { a: T.ones([3]), b: bad() }), `save with a ${what} tensor`, refused);
      assert.ok(!existsSync(file), `save with a ${what} tensor left ${file}`);
      throwsError(() => T.saveSafetensorsFolder(join(dir, what), new Map([['w', bad()]])), `folder save with a ${what} tensor`, refused);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.safetensors')), [], 'temporary files left behind');
    const ok = join(dir, 'ok.safetensors');
    T.saveSafetensors(ok, { a: T.ones([2]) });
    throwsError(() => T.loadSafetensors(ok, { dtype: 'float8' as DType }), 'read into an unknown dtype', /unknown dtype 'float8'/);
    if (!otherDevices().includes('cuda:7')) throwsError(() => T.loadSafetensors(ok, { device: 'cuda:7' }), 'read onto a missing device', /aten::_to_copy/);
  });
});

test('creation functions refuse bad shapes, dtypes, devices and ranges with an Error', () => {
  const creators: Array<[string, (shape: number[], o: { dtype?: DType; device?: Device }) => Tensor]> = [
    ['zeros', (s, o) => T.zeros(s, o)],
    ['ones', (s, o) => T.ones(s, o)],
    ['full', (s, o) => T.full(s, 2, o)],
    ['rand', (s, o) => T.rand(s, o)],
    ['randn', (s, o) => T.randn(s, o)],
    ['randint', (s, o) => T.randint(0, 5, s, o)],
    ['tensor', (s, o) => T.tensor(new Float32Array(4), { ...o, shape: s })],
  ];
  const badShapes: unknown[] = [[-1], [2.5], [NaN], [Infinity], [[2]], 'abc', [2, -3]];
  const badDevices = ['tpu', 'cuda:-1', ...(otherDevices().includes('cuda:7') ? [] : ['cuda:7'])];
  T.scope(() => {
    for (const [name, make] of creators) {
      for (const s of badShapes) {
        throwsError(() => make(s as number[], {}), `${name} shape ${String(s)}`, /shape must be an array of non-negative integers/);
      }
      for (const d of ['float8', 'complex64', '']) {
        throwsError(() => make([2, 2], { dtype: d as DType }), `${name} dtype '${d}'`, /dtype/);
      }
      for (const d of badDevices) {
        throwsError(() => make([2, 2], { device: d as Device }), `${name} device ${d}`, /aten::/);
      }
    }
    const others: Case[] = [
      ['arange step 0', () => T.arange(0, 10, 0), /aten::arange.*step must be nonzero/],
      ['arange to infinity', () => T.arange(0, Infinity), /aten::arange/],
      ['arange NaN', () => T.arange(NaN), /aten::arange/],
      ['arange wrong direction', () => T.arange(10, 0, 1), /aten::arange/],
      ['linspace negative steps', () => T.linspace(0, 1, -1), /aten::linspace/],
      ['linspace fractional steps', () => T.linspace(0, 1, 1.5), /aten::linspace.*expected an integer/],
      ['eye negative', () => T.eye(-1), /aten::eye/],
      ['eye NaN', () => T.eye(NaN), /aten::eye/],
      ['randint empty range', () => T.randint(5, 1, [2]), /aten::randint/],
      ['randint float dtype', () => T.randint(0, 5, [2], { dtype: 'float32' }), /randint: dtype must be an integer type/],
      ['randn bool dtype', () => T.randn([2], { dtype: 'bool' }), /aten::randn/],
      ['rand int64 dtype', () => T.rand([2], { dtype: 'int64' }), /aten::rand/],
      ['negative seed', () => T.randn([2], { seed: -1 }), /seed must be a non-negative integer/],
      ['fractional seed', () => T.rand([2], { seed: 1.5 }), /seed must be a non-negative integer/],
      ['full overflowing int32', () => T.full([2], 1e30, { dtype: 'int32' }), /aten::full.*overflow/],
      ['full NaN into int64', () => T.full([2], NaN, { dtype: 'int64' }), /aten::full/],
      ['zeros too large to count', () => T.zeros([2 ** 31, 2 ** 31, 4]), /aten::zeros.*overflow/],
      ['tensor from a DataView', () => T.tensor(new DataView(new ArrayBuffer(8))), /unsupported typed array DataView/],
      ['tensor NaN into int64', () => T.tensor([1, NaN], { dtype: 'int64' }), /not an integer/],
      ['zerosLike of a disposed tensor', () => { const t = T.ones([2]); t.dispose(); return T.zerosLike(t); }, /aten::zeros_like.*tensor was disposed/],
    ];
    for (const [name, fn, re] of others) throwsError(fn, name, re);
  });
});

// Integer x % -1 once killed the process: the CPU's integer division traps (SIGFPE)
// on INT_MIN / -1. Run in a child process, so a regression fails this test instead
// of taking the whole file down.
test('integer remainder of INT_MIN by -1 is 0, not a SIGFPE', () => {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const script = `
    import * as T from ${JSON.stringify(engine)};
    const i32 = T.tensor([-2147483648, 7], { dtype: 'int32' });
    const i64 = T.tensor(new BigInt64Array([-(2n ** 63n), 7n]));
    const out = [
      i32.remainder(-1),
      i32.remainder(T.tensor([-1, -1], { dtype: 'int32' })),
      i32.remainder(T.tensor(-1, { dtype: 'int32' })),
      i32.remainder(T.tensor([-1], { dtype: 'int64' })),
      i64.remainder(-1),
      i64.remainder(T.tensor([-1, -1], { dtype: 'int64' })),
      T.tensor([-128, 7], { dtype: 'int8' }).remainder(-1),
    ];
    console.log(JSON.stringify(out.map((t) => t.toNumbers())));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.signal, null, `the process was killed by ${r.signal}`);
  assert.equal(r.status, 0, r.stderr);
  const last = r.stdout.trim().split('\n').pop() as string;
  assert.deepEqual(JSON.parse(last), new Array(7).fill([0, 0]));
});

// Arguments that used to give a wrong result silently are refused.
test('no silent wrong results from bad arguments', () => {
  const problems: string[] = [];
  T.scope(() => {
    const a = T.randn([2, 3], { seed: 1 });
    const mask = T.tensor([[1, 0, 1], [0, 1, 0]]);
    try {
      const r = a.maskedFill(mask, 9).toNumbers();
      problems.push(`maskedFill with a float32 mask returned [${r.join(', ')}] instead of refusing`);
    } catch {
      /* refused: right */
    }
    for (const [what, data] of [['a string', 'abc'], ['undefined', undefined], ['an object', { a: 1 }]] as Array<[string, unknown]>) {
      try {
        const r = T.tensor(data as number);
        problems.push(`tensor(${what}) returned ${r.toString()} = ${r.toNumbers().join(', ')}`);
      } catch {
        /* refused: right */
      }
    }
    try {
      const r = T.tensor(new BigUint64Array([1n, 2n]));
      if (r.dtype !== 'int64' && r.dtype !== 'uint64' as DType) problems.push(`tensor(BigUint64Array) returned ${r.toString()} (its bytes read as ${r.dtype})`);
    } catch {
      /* refused: right */
    }
  });
  assert.deepEqual(problems, []);
});

// Integer division of INT_MIN by -1 through the raw operator entry point (callOp):
// the Tensor methods avoid it, but callOp reaches every ATen op.
test('callOp: integer division ops on INT_MIN by -1 do not kill the process', () => {
  const engine = new URL('../../src/engine/index.js', import.meta.url).href;
  const died: string[] = [];
  for (const [name, extra] of [['aten::remainder.Scalar', []], ['aten::fmod.Scalar', []], ['aten::floor_divide.Scalar', []], ['aten::div.Scalar_mode', ['trunc']]] as Array<[string, string[]]>) {
    const script = `
      import * as T from ${JSON.stringify(engine)};
      const t = T.tensor([-2147483648, 7], { dtype: 'int32' });
      try { T.callOp(${JSON.stringify(name)}, [t.handle, -1, ...${JSON.stringify(extra)}]); } catch (e) { if (!(e instanceof Error)) throw e; }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.signal !== null || r.status !== 0) died.push(`${name}: ${r.signal ?? `exit ${r.status}`}`);
  }
  assert.deepEqual(died, []);
});
