// Tensor creation: from data, constants, ranges and random numbers.
// Random creators take an optional per-call `seed`; without it they draw from
// the global generator (`manualSeed`). Seeded numbers are drawn on the CPU and
// then moved, so a seed gives the same numbers on every device.
import { native } from './native.js';
import { dtypeCode, isFloating, ITEM_SIZE, type DType } from './dtype.js';
import { op, Tensor, type Device, type Shape } from './tensor.js';
import { generatorFor } from './random.js';

export interface Options {
  dtype?: DType;
  device?: Device;
}
export interface RandomOptions extends Options {
  seed?: number;
}

function dt(o: Options | undefined, fallback: DType = 'float32'): number {
  return dtypeCode(o?.dtype ?? fallback);
}

function checkShape(shape: Shape, what: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`${what}: shape must be an array of non-negative integers, got ${Array.isArray(shape) ? `[${shape.map(String).join(', ')}]` : String(shape)}`);
  }
}

type NestedNumbers = number | boolean | NestedNumbers[];

function flatten(data: NestedNumbers, shape: number[], out: number[], depth: number): void {
  if (Array.isArray(data)) {
    if (shape.length <= depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new TypeError(`tensor(): ragged nested array at depth ${depth}`);
    for (const x of data) flatten(x, shape, out, depth + 1);
  } else {
    if (shape.length !== depth) throw new TypeError(`tensor(): ragged nested array at depth ${depth}`);
    if (typeof data !== 'number' && typeof data !== 'boolean') {
      throw new TypeError(`tensor(): expected numbers or booleans, got ${data === null ? 'null' : typeof data} at flat position ${out.length}`);
    }
    out.push(typeof data === 'boolean' ? (data ? 1 : 0) : data);
  }
}

/**
 * A tensor from nested arrays, a typed array or a number (copies the data).
 * Nested numbers default to float32; typed arrays keep their element type.
 */
export function tensor(
  data: NestedNumbers | ArrayBufferView,
  opts: Options & { shape?: Shape } = {},
): Tensor {
  if (ArrayBuffer.isView(data)) {
    const inferred: DType | null =
      data instanceof Float64Array ? 'float64'
      : data instanceof BigInt64Array ? 'int64'
      : data instanceof Int32Array ? 'int32'
      : data instanceof Int16Array ? 'int16'
      : data instanceof Int8Array ? 'int8'
      : data instanceof Uint8Array ? 'uint8'
      : data instanceof Float32Array ? 'float32'
      : null;
    // other typed arrays (Uint16/32, BigUint64, clamped) have no matching dtype: their bytes would be misread
    if (inferred === null) throw new TypeError(`tensor(): unsupported typed array ${data.constructor.name}; use Float32/64, Int8/16/32, BigInt64 or Uint8 arrays`);
    const dtype = opts.dtype ?? inferred;
    const n = data.byteLength / ITEM_SIZE[dtype];
    const shape = opts.shape ?? [n];
    checkShape(shape, 'tensor');
    const t = new Tensor(native().fromBytes(data, dtypeCode(dtype), shape));
    return opts.device && opts.device !== 'cpu' ? moveAndDispose(t, opts.device) : t;
  }
  const shape: number[] = [];
  const flat: number[] = [];
  flatten(data, shape, flat, 0);
  // JavaScript cannot tell 1.0 from 1, so numbers default to float32 (give dtype
  // 'int64' for ids); all-boolean data becomes bool.
  const dtype = opts.dtype ?? (isBoolData(data) ? 'bool' : 'float32');
  checkIntegerValues(flat, dtype);
  const src = new Float64Array(flat);
  let finalShape: readonly number[] = shape;
  if (opts.shape) {
    checkShape(opts.shape, 'tensor');
    const n = opts.shape.reduce((a, b) => a * b, 1);
    if (n !== flat.length) throw new TypeError(`tensor(): ${flat.length} values do not fill shape [${opts.shape.join(', ')}]`);
    finalShape = opts.shape;
  }
  let t = new Tensor(native().fromBytes(src, dtypeCode('float64'), finalShape));
  if (dtype !== 'float64') {
    const c = t.to(dtype);
    t.dispose();
    t = c;
  }
  return opts.device && opts.device !== 'cpu' ? moveAndDispose(t, opts.device) : t;
}

// The integer range each dtype holds exactly from a JavaScript number (int64 is
// limited to the safe integers: larger numbers are already rounded; use a BigInt64Array).
const INTEGER_RANGE: Partial<Record<DType, [number, number]>> = {
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int16: [-(2 ** 15), 2 ** 15 - 1],
  int8: [-128, 127],
  uint8: [0, 255],
};

/** Refuses values an integer dtype would silently wrap or truncate (NaN, fractions, overflow). */
function checkIntegerValues(values: readonly number[], dtype: DType): void {
  const range = INTEGER_RANGE[dtype];
  if (!range) return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isInteger(v) || v < range[0] || v > range[1]) {
      throw new RangeError(`tensor(): value ${v} at flat position ${i} is not an integer in the ${dtype} range [${range[0]}, ${range[1]}]`);
    }
  }
}

function isBoolData(d: NestedNumbers): boolean {
  return Array.isArray(d) ? d.length > 0 && d.every(isBoolData) : typeof d === 'boolean';
}

function moveAndDispose(t: Tensor, device: Device): Tensor {
  const m = t.to({ device });
  t.dispose();
  return m;
}

/** Uninitialised memory (for parameters that are filled right after). */
export function empty(shape: Shape, opts?: Options): Tensor {
  checkShape(shape, 'empty');
  return op('aten::empty.memory_format', [shape, dt(opts), null, opts?.device ?? null, null, null]);
}
export function zeros(shape: Shape, opts?: Options): Tensor {
  checkShape(shape, 'zeros');
  return op('aten::zeros', [shape, dt(opts), null, opts?.device ?? null]);
}
export function ones(shape: Shape, opts?: Options): Tensor {
  checkShape(shape, 'ones');
  return op('aten::ones', [shape, dt(opts), null, opts?.device ?? null]);
}
export function full(shape: Shape, value: number, opts?: Options): Tensor {
  checkShape(shape, 'full');
  return op('aten::full', [shape, value, dt(opts), null, opts?.device ?? null]);
}
export function zerosLike(t: Tensor): Tensor {
  return op('aten::zeros_like', [t.handle]);
}
export function onesLike(t: Tensor): Tensor {
  return op('aten::ones_like', [t.handle]);
}
/** Values start, start+step, ... below end (int64 when all arguments are integers). */
export function arange(start: number, end?: number, step = 1, opts?: Options): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  const ints = [s, e, step].every(Number.isInteger);
  return op('aten::arange.start_step', [s, e, step, dtypeCode(opts?.dtype ?? (ints ? 'int64' : 'float32')), null, opts?.device ?? null]);
}
export function linspace(start: number, end: number, steps: number, opts?: Options): Tensor {
  return op('aten::linspace', [{ f: start }, { f: end }, steps, dt(opts), null, opts?.device ?? null]);
}
export function eye(n: number, opts?: Options): Tensor {
  return op('aten::eye', [n, dt(opts), null, opts?.device ?? null]);
}

function seeded(name: string, args: (g: ReturnType<typeof generatorFor>) => Parameters<typeof op>[1], opts?: RandomOptions): Tensor {
  const g = generatorFor(opts?.seed);
  const t = op(name, args(g));
  return opts?.device && opts.device !== 'cpu' ? moveAndDispose(t, opts.device) : t;
}

/** Uniform [0, 1). */
export function rand(shape: Shape, opts?: RandomOptions): Tensor {
  checkShape(shape, 'rand');
  return seeded('aten::rand.generator', (g) => [shape, g, dt(opts)], opts);
}
/** Standard normal. */
export function randn(shape: Shape, opts?: RandomOptions): Tensor {
  checkShape(shape, 'randn');
  return seeded('aten::randn.generator', (g) => [shape, g, dt(opts)], opts);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: Shape, opts?: RandomOptions): Tensor {
  checkShape(shape, 'randint');
  if (opts?.dtype && isFloating(opts.dtype)) throw new TypeError('randint: dtype must be an integer type');
  return seeded('aten::randint.low_generator', (g) => [low, high, shape, g, dt(opts, 'int64')], opts);
}
