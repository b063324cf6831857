// Arguments that libtorch would take and silently turn into wrong numbers (or
// that fail far from their cause) are refused where they enter, with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';

test('integer tensors refuse values they cannot hold exactly', () => {
  const cases: Array<[number, T.DType]> = [
    [2 ** 70, 'int64'], [2 ** 53 + 2, 'int64'], [NaN, 'int64'], [Infinity, 'int32'], [0.5, 'int32'],
    [2 ** 31, 'int32'], [-(2 ** 31) - 1, 'int32'], [300, 'uint8'], [-1, 'uint8'], [128, 'int8'], [40000, 'int16'],
  ];
  for (const [v, dtype] of cases) {
    assert.throws(() => T.tensor([1, v], { dtype }), new RegExp(`value ${String(v).replace('+', '\\+')} at flat position 1 is not an integer in the ${dtype} range`), `${v} ${dtype}`);
  }
  assert.deepEqual(T.tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: 'int32' }).toNumbers(), [-(2 ** 31), 2 ** 31 - 1]);
  assert.deepEqual(T.tensor([Number.MAX_SAFE_INTEGER], { dtype: 'int64' }).toNumbers(), [Number.MAX_SAFE_INTEGER]);
  assert.deepEqual(T.tensor([1.5, NaN]).toArray().length, 2, 'floating dtypes take any number');
});

test('integer arguments out of the int64 range, NaN and huge lists are refused by the native layer', () => {
  const o = T.ones([2]);
  assert.throws(() => o.reshape([NaN]), /aten::reshape.*integer out of the int64 range/);
  assert.throws(() => o.reshape([2 ** 70]), /aten::reshape.*integer out of the int64 range/);
  const sparse: number[] = [];
  sparse.length = 2 ** 28;
  sparse[0] = 2;
  assert.throws(() => o.reshape(sparse), /aten::reshape.*elements is too long/);
  const holey: number[] = [2];
  holey.length = 3;
  assert.throws(() => o.reshape(holey), /list element 1 is missing/);
  assert.throws(() => T.callOp('aten::reshape', [o.handle, [2n ** 64n as unknown as number]]), /does not fit in int64/);
});

test('integer remainder by -1 is 0 (the CPU traps on INT_MIN / -1; the process must live)', () => {
  const a = T.tensor([-(2 ** 31), 7, -7], { dtype: 'int32' });
  assert.deepEqual(a.remainder(-1).toNumbers(), [0, 0, 0]);
  assert.deepEqual(a.remainder(T.tensor([-1, -1, 3], { dtype: 'int32' })).toNumbers(), [0, 0, 2]);
  const b = T.tensor([-(2 ** 53) + 1, 5], { dtype: 'int64' });
  assert.deepEqual(b.remainder(T.tensor([-1, -3], { dtype: 'int64' })).toNumbers(), [0, -1]);
  assert.deepEqual(a.remainder(3).toNumbers(), [1, 1, 2], 'Python semantics: the sign of the divisor');
});

test('true division of integers by -1 is not refused: it never divides as integers', () => {
  const a = T.tensor([-(2 ** 31), 5], { dtype: 'int32' });
  assert.deepEqual(a.div(-1).toNumbers(), [2 ** 31, -5]);
  const q = T.callOp('aten::div.Tensor_mode', [a.handle, T.tensor([-1, -1], { dtype: 'int32' }).handle, null]) as unknown as T.Tensor;
  assert.deepEqual(q.toNumbers(), [2 ** 31, -5], 'no rounding mode: true division');
  assert.throws(() => T.callOp('aten::divide.Scalar_mode', [a.handle, -1, 'floor']), /aten::divide\.Scalar_mode.*minimum by -1 overflows/);
});

test('a .grad of the wrong shape, dtype or device is refused when set, not at backward', () => {
  const p = T.zeros([2, 3]).requiresGrad_();
  assert.throws(() => { p.grad = T.zeros([3, 2]); }, /setGrad: gradient \[3,2\] Float cpu does not match the tensor \[2,3\] Float cpu/);
  assert.throws(() => { p.grad = T.zeros([2, 3], { dtype: 'float64' }); }, /does not match/);
  p.grad = T.ones([2, 3]);
  assert.deepEqual(p.grad?.shape, [2, 3]);
});

test('optimiser and loss hyper-parameters outside their domain are refused', () => {
  assert.throws(() => T.optim.clipGradNorm([], -1), /maxNorm must be a positive finite number, got -1/);
  assert.throws(() => T.optim.clipGradNorm([], NaN), /maxNorm must be a positive finite number/);
  const logits = T.zeros([2, 3]);
  const target = T.tensor([0, 1], { dtype: 'int64' });
  assert.throws(() => T.crossEntropy(logits, target, { labelSmoothing: -0.1 }), /labelSmoothing must be in \[0, 1\], got -0.1/);
  assert.throws(() => T.crossEntropy(logits, target, { labelSmoothing: 1.5 }), /labelSmoothing must be in \[0, 1\]/);
  assert.ok(Number.isFinite(T.crossEntropy(logits, target, { labelSmoothing: 0.1 }).item()));
});
