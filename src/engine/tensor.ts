// The Tensor class: a JavaScript handle on a libtorch tensor with PyTorch's
// semantics (broadcasting, type promotion, autograd). Each method is a thin
// call of one ATen operator by schema name; errors name the op and shapes.
import { callNative, native, type Arg, type Handle, type Ret } from './native.js';
import { dtypeCode, dtypeOfCode, isFloating, viewBytes, type DType, type TypedArrayOf } from './dtype.js';
import { scope, track, type Scoped } from './scope.js';

const isInteger = (d: DType): boolean => !isFloating(d) && d !== 'bool';

/** An integer tensor that can be read (a disposed or foreign argument goes on to the op, whose error names it). */
function isLiveInteger(t: unknown): boolean {
  return t instanceof Tensor && !t.isDisposed && isInteger(t.dtype);
}

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Shape = readonly number[];
export type Dims = number | readonly number[];
export type TensorOrScalar = Tensor | number;

/** Calls one ATen operator and wraps tensor results (nested arrays for tuples). */
export function callOp(op: string, args: Arg[]): Ret {
  return wrapRet(callNative(op, args));
}

function wrapRet(r: Ret): Ret {
  if (Array.isArray(r)) return r.map(wrapRet);
  if (r !== null && typeof r === 'object') return new Tensor(r as Handle) as unknown as Ret;
  return r;
}

/** Calls an operator that returns one tensor. */
export function op(name: string, args: Arg[]): Tensor {
  const r = callNative(name, args);
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new Error(`${name}: expected a tensor result`);
  return new Tensor(r as Handle);
}

/** Calls an operator that returns several tensors (a tuple or a list). */
function opMany(name: string, args: Arg[]): Tensor[] {
  const r = callNative(name, args);
  if (!Array.isArray(r)) throw new Error(`${name}: expected a list of tensors`);
  return r.map((h) => new Tensor(h as Handle));
}

/** Calls an in-place operator, discarding the returned alias. */
function opInPlace(name: string, args: Arg[]): void {
  callNative(name, args, true);
}

function dimList(d: Dims): number[] {
  return typeof d === 'number' ? [d] : [...d];
}

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

// The safety net for tensors that no scope owns: collected without dispose(),
// their native memory is freed here.
const finalizer = new FinalizationRegistry<Handle>((h) => native().dispose(h));

export class Tensor implements Scoped {
  scopeSet?: Set<Scoped> | undefined;
  private disposed = false;
  private finalized = false;
  private metaCache: { shape: number[]; dtype: DType; device: string } | undefined;

  constructor(readonly handle: Handle) {
    track(this);
  }

  // ---- metadata -----------------------------------------------------------

  private meta(): { shape: number[]; dtype: DType; device: string } {
    if (!this.metaCache) {
      const [shape, code, device] = native().meta(this.handle);
      this.metaCache = { shape, dtype: dtypeOfCode(code), device };
    }
    return this.metaCache;
  }

  get shape(): number[] {
    return [...this.meta().shape];
  }
  get dtype(): DType {
    return this.meta().dtype;
  }
  get device(): string {
    return this.meta().device;
  }
  get ndim(): number {
    return this.meta().shape.length;
  }
  get numel(): number {
    return this.meta().shape.reduce((a, b) => a * b, 1);
  }
  size(dim: number): number {
    const s = this.meta().shape;
    const d = dim < 0 ? dim + s.length : dim;
    const v = s[d];
    if (v === undefined) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return v;
  }
  get isDisposed(): boolean {
    return this.disposed || native().isDisposed(this.handle);
  }

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const m = this.meta();
    return `Tensor(shape=[${m.shape.join(', ')}], dtype=${m.dtype}, device=${m.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  /** Registers the finalizer safety net once no scope owns this tensor. */
  unscoped(): void {
    if (this.finalized || this.disposed) return;
    this.finalized = true;
    finalizer.register(this, this.handle, this);
    native().accountMemory(this.handle);
  }

  /** Frees the tensor's memory now (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.finalized) finalizer.unregister(this);
    if (this.scopeSet) {
      this.scopeSet.delete(this);
      this.scopeSet = undefined;
    }
    native().dispose(this.handle);
  }

  // ---- data in and out ----------------------------------------------------

  /** The elements, flattened, as a typed array (float16/bfloat16 widen to Float32Array). */
  toArray(): TypedArrayOf {
    return viewBytes(this.dtype, native().toBytes(this.handle));
  }

  /** The raw bytes of the contiguous CPU data. */
  toBytes(): Uint8Array {
    return new Uint8Array(native().toBytes(this.handle));
  }

  /** The elements as plain numbers (int64 through Number). */
  toNumbers(): number[] {
    const a = this.toArray();
    return Array.from(a as ArrayLike<number | bigint>, (v) => Number(v));
  }

  /** Nested arrays in the tensor's shape. */
  tolist(): unknown {
    const flat = this.toNumbers();
    const shape = this.meta().shape;
    const build = (d: number, off: number): unknown => {
      const n = shape[d] as number;
      if (d === shape.length - 1) return flat.slice(off, off + n);
      const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: n }, (_, i) => build(d + 1, off + i * stride));
    };
    return shape.length === 0 ? flat[0] : build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    const r = callNative('aten::item', [this.handle]);
    if (typeof r === 'boolean') return r ? 1 : 0;
    if (typeof r !== 'number') throw new Error('item: expected a scalar');
    return r;
  }

  // ---- conversion ---------------------------------------------------------

  /** Converts dtype and/or device (returns this tensor's alias when nothing changes). */
  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    const spec = typeof target === 'string' ? (isDevice(target) ? { device: target } : { dtype: target as DType }) : target;
    return op('aten::_to_copy', [
      this.handle,
      spec.dtype === undefined ? null : dtypeCode(spec.dtype),
      null,
      spec.device ?? null,
    ]);
  }
  float(): Tensor {
    return this.to('float32');
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  clone(): Tensor {
    return op('aten::clone', [this.handle]);
  }
  contiguous(): Tensor {
    return op('aten::contiguous', [this.handle]);
  }
  detach(): Tensor {
    return op('aten::detach', [this.handle]);
  }

  // ---- autograd -----------------------------------------------------------

  get requiresGrad(): boolean {
    return native().meta(this.handle)[3];
  }
  /** Marks a leaf tensor as needing gradients; returns this. */
  requiresGrad_(on = true): this {
    native().setRequiresGrad(this.handle, on);
    return this;
  }
  get isLeaf(): boolean {
    return native().isLeaf(this.handle);
  }
  /** The accumulated gradient, or null (a new handle each call: dispose or scope it). */
  get grad(): Tensor | null {
    const g = native().getGrad(this.handle);
    return g ? new Tensor(g) : null;
  }
  set grad(g: Tensor | null) {
    native().setGrad(this.handle, g ? g.handle : null);
  }
  zeroGrad(): void {
    native().setGrad(this.handle, null);
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    native().backward([this.handle], gradient ? [gradient.handle] : null, opts.retainGraph ?? false);
  }

  // ---- elementwise arithmetic --------------------------------------------

  private bin(name: string, other: TensorOrScalar, extra: Arg[] = []): Tensor {
    return typeof other === 'number'
      ? op(`aten::${name}.Scalar`, [this.handle, other, ...extra])
      : op(`aten::${name}.Tensor`, [this.handle, other.handle, ...extra]);
  }
  add(other: TensorOrScalar, alpha = 1): Tensor {
    return this.bin('add', other, [alpha]);
  }
  sub(other: TensorOrScalar, alpha = 1): Tensor {
    return this.bin('sub', other, [alpha]);
  }
  mul(other: TensorOrScalar): Tensor {
    return this.bin('mul', other);
  }
  div(other: TensorOrScalar): Tensor {
    return this.bin('div', other);
  }
  /** Python-style modulo (the result takes the divisor's sign). */
  remainder(other: TensorOrScalar): Tensor {
    // Integer x % -1 is 0, but the CPU's integer division traps on INT_MIN / -1
    // (SIGFPE kills the process, in PyTorch too); x % 1 is the same 0 without the trap.
    if (isLiveInteger(this)) {
      if (typeof other === 'number') return this.bin('remainder', other === -1 ? 1 : other);
      if (isLiveInteger(other)) {
        return scope(() => {
          const safe = op('aten::where.ScalarOther', [other.ne(-1).handle, other.handle, 1]);
          return this.bin('remainder', safe);
        });
      }
    }
    return this.bin('remainder', other);
  }
  pow(exponent: TensorOrScalar): Tensor {
    return typeof exponent === 'number'
      ? op('aten::pow.Tensor_Scalar', [this.handle, exponent])
      : op('aten::pow.Tensor_Tensor', [this.handle, exponent.handle]);
  }
  neg(): Tensor {
    return op('aten::neg', [this.handle]);
  }
  maximum(other: Tensor): Tensor {
    return op('aten::maximum', [this.handle, other.handle]);
  }
  minimum(other: Tensor): Tensor {
    return op('aten::minimum', [this.handle, other.handle]);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return op('aten::clamp', [this.handle, min ?? null, max ?? null]);
  }

  // comparisons (bool results)
  eq(other: TensorOrScalar): Tensor {
    return this.bin('eq', other);
  }
  ne(other: TensorOrScalar): Tensor {
    return this.bin('ne', other);
  }
  lt(other: TensorOrScalar): Tensor {
    return this.bin('lt', other);
  }
  le(other: TensorOrScalar): Tensor {
    return this.bin('le', other);
  }
  gt(other: TensorOrScalar): Tensor {
    return this.bin('gt', other);
  }
  ge(other: TensorOrScalar): Tensor {
    return this.bin('ge', other);
  }
  logicalNot(): Tensor {
    return op('aten::logical_not', [this.handle]);
  }
  logicalAnd(other: Tensor): Tensor {
    return op('aten::logical_and', [this.handle, other.handle]);
  }
  logicalOr(other: Tensor): Tensor {
    return op('aten::logical_or', [this.handle, other.handle]);
  }
  /** True when every element is equal and the shapes match. */
  equal(other: Tensor): boolean {
    return callNative('aten::equal', [this.handle, other.handle]) === true;
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return callNative('aten::allclose', [this.handle, other.handle, rtol, atol, false]) === true;
  }

  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    // libtorch 1.13 takes a non-bool mask and silently fills nothing
    if (mask instanceof Tensor && !mask.isDisposed && mask.dtype !== 'bool') {
      throw new TypeError(`aten::masked_fill.${typeof value === 'number' ? 'Scalar' : 'Tensor'}: the mask must be bool, got ${mask.dtype}`);
    }
    return typeof value === 'number'
      ? op('aten::masked_fill.Scalar', [this.handle, mask.handle, value])
      : op('aten::masked_fill.Tensor', [this.handle, mask.handle, value.handle]);
  }

  // unary math
  /** Copies `source`'s elements, in order, into the positions where `mask` is true. */
  maskedScatter(mask: Tensor, source: Tensor): Tensor {
    if (mask.dtype !== 'bool') throw new TypeError(`aten::masked_scatter: the mask must be bool, got ${mask.dtype}`);
    return op('aten::masked_scatter', [this.handle, mask.handle, source.handle]);
  }
  abs(): Tensor {
    return op('aten::abs', [this.handle]);
  }
  sign(): Tensor {
    return op('aten::sign', [this.handle]);
  }
  /** Round to nearest, ties to even (torch.round). */
  round(): Tensor {
    return op('aten::round', [this.handle]);
  }
  exp(): Tensor {
    return op('aten::exp', [this.handle]);
  }
  log(): Tensor {
    return op('aten::log', [this.handle]);
  }
  sqrt(): Tensor {
    return op('aten::sqrt', [this.handle]);
  }
  rsqrt(): Tensor {
    return op('aten::rsqrt', [this.handle]);
  }
  sin(): Tensor {
    return op('aten::sin', [this.handle]);
  }
  cos(): Tensor {
    return op('aten::cos', [this.handle]);
  }
  tanh(): Tensor {
    return op('aten::tanh', [this.handle]);
  }
  sigmoid(): Tensor {
    return op('aten::sigmoid', [this.handle]);
  }
  relu(): Tensor {
    return op('aten::relu', [this.handle]);
  }
  /** GELU, exact (erf) by default or the tanh approximation. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return op('aten::gelu', [this.handle, approximate]);
  }
  silu(): Tensor {
    return op('aten::silu', [this.handle]);
  }
  softmax(dim: number): Tensor {
    return op('aten::softmax.int', [this.handle, dim, null]);
  }
  logSoftmax(dim: number): Tensor {
    return op('aten::log_softmax.int', [this.handle, dim, null]);
  }

  // ---- in-place (for optimisers and parameter updates; use under noGrad) ----

  add_(other: TensorOrScalar, alpha = 1): this {
    if (typeof other === 'number') opInPlace('aten::add_.Scalar', [this.handle, other, alpha]);
    else opInPlace('aten::add_.Tensor', [this.handle, other.handle, alpha]);
    return this;
  }
  mul_(other: TensorOrScalar): this {
    if (typeof other === 'number') opInPlace('aten::mul_.Scalar', [this.handle, other]);
    else opInPlace('aten::mul_.Tensor', [this.handle, other.handle]);
    return this;
  }
  div_(other: TensorOrScalar): this {
    if (typeof other === 'number') opInPlace('aten::div_.Scalar', [this.handle, other]);
    else opInPlace('aten::div_.Tensor', [this.handle, other.handle]);
    return this;
  }
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    opInPlace('aten::addcmul_', [this.handle, a.handle, b.handle, value]);
    return this;
  }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    opInPlace('aten::addcdiv_', [this.handle, a.handle, b.handle, value]);
    return this;
  }
  copy_(src: Tensor): this {
    opInPlace('aten::copy_', [this.handle, src.handle]);
    return this;
  }
  zero_(): this {
    opInPlace('aten::zero_', [this.handle]);
    return this;
  }
  fill_(value: number): this {
    opInPlace('aten::fill_.Scalar', [this.handle, value]);
    return this;
  }
  sqrt_(): this {
    opInPlace('aten::sqrt_', [this.handle]);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    opInPlace('aten::clamp_', [this.handle, min ?? null, max ?? null]);
    return this;
  }

  // ---- reductions -----------------------------------------------------------

  sum(dim?: Dims, keepdim = false): Tensor {
    return dim === undefined
      ? op('aten::sum', [this.handle, null])
      : op('aten::sum.dim_IntList', [this.handle, dimList(dim), keepdim, null]);
  }
  mean(dim?: Dims, keepdim = false): Tensor {
    return dim === undefined
      ? op('aten::mean', [this.handle, null])
      : op('aten::mean.dim', [this.handle, dimList(dim), keepdim, null]);
  }
  /** Variance; unbiased (Bessel's correction) by default, as in PyTorch. */
  var(dim?: Dims, keepdim = false, unbiased = true): Tensor {
    return op('aten::var.correction', [this.handle, dim === undefined ? null : dimList(dim), unbiased ? 1 : 0, keepdim]);
  }
  std(dim?: Dims, keepdim = false, unbiased = true): Tensor {
    return op('aten::std.correction', [this.handle, dim === undefined ? null : dimList(dim), unbiased ? 1 : 0, keepdim]);
  }
  /** Vector p-norm over dims (all elements when dim is omitted). */
  norm(p = 2, dim?: Dims, keepdim = false): Tensor {
    return op('aten::linalg_vector_norm', [this.handle, { f: p }, dim === undefined ? null : dimList(dim), keepdim, null]);
  }
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return op('aten::max', [this.handle]);
    const [values, indices] = opMany('aten::max.dim', [this.handle, dim, keepdim]) as [Tensor, Tensor];
    return { values, indices };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return op('aten::min', [this.handle]);
    const [values, indices] = opMany('aten::min.dim', [this.handle, dim, keepdim]) as [Tensor, Tensor];
    return { values, indices };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return op('aten::argmax', [this.handle, dim ?? null, keepdim]);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return op('aten::argmin', [this.handle, dim ?? null, keepdim]);
  }
  logsumexp(dim: Dims, keepdim = false): Tensor {
    return op('aten::logsumexp', [this.handle, dimList(dim), keepdim]);
  }
  topk(k: number, dim = -1, largest = true, sorted = true): ValuesIndices {
    const [values, indices] = opMany('aten::topk', [this.handle, k, dim, largest, sorted]) as [Tensor, Tensor];
    return { values, indices };
  }
  sort(dim = -1, descending = false): ValuesIndices {
    const [values, indices] = opMany('aten::sort', [this.handle, dim, descending]) as [Tensor, Tensor];
    return { values, indices };
  }
  cumsum(dim: number): Tensor {
    return op('aten::cumsum', [this.handle, dim, null]);
  }
  any(): Tensor {
    return op('aten::any', [this.handle]);
  }
  all(): Tensor {
    return op('aten::all', [this.handle]);
  }

  // ---- shape ------------------------------------------------------------------

  reshape(shape: Shape): Tensor {
    return op('aten::reshape', [this.handle, shape]);
  }
  view(shape: Shape): Tensor {
    return op('aten::view', [this.handle, shape]);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return op('aten::flatten.using_ints', [this.handle, startDim, endDim]);
  }
  permute(dims: readonly number[]): Tensor {
    return op('aten::permute', [this.handle, dims]);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return op('aten::transpose.int', [this.handle, dim0, dim1]);
  }
  get T(): Tensor {
    return op('aten::numpy_T', [this.handle]);
  }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? op('aten::squeeze', [this.handle]) : op('aten::squeeze.dim', [this.handle, dim]);
  }
  unsqueeze(dim: number): Tensor {
    return op('aten::unsqueeze', [this.handle, dim]);
  }
  expand(shape: Shape): Tensor {
    return op('aten::expand', [this.handle, shape, false]);
  }
  repeat(repeats: Shape): Tensor {
    return op('aten::repeat', [this.handle, repeats]);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return op('aten::narrow', [this.handle, dim, start, length]);
  }
  /** Python's t[..., start:end:step] along one dim. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return op('aten::slice.Tensor', [this.handle, dim, start ?? null, end ?? null, step]);
  }
  /** Selects one index along a dim, removing that dim. */
  select(dim: number, index: number): Tensor {
    return op('aten::select.int', [this.handle, dim, index]);
  }
  split(splitSize: number, dim = 0): Tensor[] {
    return opMany('aten::split.Tensor', [this.handle, splitSize, dim]);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return opMany('aten::chunk', [this.handle, chunks, dim]);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return op('aten::index_select', [this.handle, dim, index.handle]);
  }
  gather(dim: number, index: Tensor): Tensor {
    return op('aten::gather', [this.handle, dim, index.handle, false]);
  }
  scatter(dim: number, index: Tensor, src: TensorOrScalar): Tensor {
    return typeof src === 'number'
      ? op('aten::scatter.value', [this.handle, dim, index.handle, src])
      : op('aten::scatter.src', [this.handle, dim, index.handle, src.handle]);
  }
  /** Advanced indexing t[i0, i1, ...] with index tensors (null = full slice). */
  index(indices: ReadonlyArray<Tensor | null>): Tensor {
    return op('aten::index.Tensor', [this.handle, indices.map((t) => (t ? t.handle : null))]);
  }
  flip(dims: Dims): Tensor {
    return op('aten::flip', [this.handle, dimList(dims)]);
  }
  roll(shifts: number, dim: number): Tensor {
    return op('aten::roll', [this.handle, [shifts], [dim]]);
  }
  triu(diagonal = 0): Tensor {
    return op('aten::triu', [this.handle, diagonal]);
  }
  tril(diagonal = 0): Tensor {
    return op('aten::tril', [this.handle, diagonal]);
  }
  nonzero(): Tensor {
    return op('aten::nonzero', [this.handle]);
  }

  // ---- linear algebra ---------------------------------------------------------

  matmul(other: Tensor): Tensor {
    return op('aten::matmul', [this.handle, other.handle]);
  }
  bmm(other: Tensor): Tensor {
    return op('aten::bmm', [this.handle, other.handle]);
  }
}

export function isDevice(s: string): s is Device {
  return s === 'cpu' || s === 'cuda' || /^cuda:\d+$/.test(s);
}
