// safetensors read and write (https://github.com/huggingface/safetensors format):
//   8 bytes little-endian u64 N | N bytes JSON header | raw little-endian data.
// Reading validates the whole header before any data is touched, and reads
// each tensor's bytes on demand, so a large file never sits in the JS heap and
// a malformed one gives a clear error instead of a crash or an out-of-memory.
import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync, existsSync, mkdirSync, fsyncSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { native } from './native.js';
import { dtypeCode, ITEM_SIZE, type DType } from './dtype.js';
import { Tensor, type Device } from './tensor.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { readJsonObjectFile } from '../util/json-limits.js';
import { MAX_CONFIG_FILE_BYTES, MAX_SAFETENSORS_HEADER_BYTES, MAX_TENSOR_DIMS } from '../util/limits.js';
import { openRegularFile, readAt } from '../util/safe-fs.js';

const ST_TO_DTYPE: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_TO_ST = Object.fromEntries(Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;

export class SafetensorsError extends Error {
  constructor(file: string, msg: string) {
    super(`${file}: ${msg}`);
    this.name = 'SafetensorsError';
  }
}

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte range in the file. */
  start: number;
  end: number;
}

export interface ReadOptions {
  dtype?: DType;
  device?: Device;
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** The raw fields of one tensor entry (checked by the caller). */
interface RawEntry {
  dtype?: unknown;
  shape?: unknown;
  data_offsets?: unknown;
}

/**
 * Parses a safetensors header without JSON.parse: the format is one object of
 * `name: {dtype, shape, data_offsets}` plus an optional `__metadata__` object
 * of strings, so anything nested deeper than three levels or any list longer
 * than MAX_TENSOR_DIMS is refused as soon as it starts, and memory stays
 * proportional to the tensors described. Each entry is handed over as soon
 * as it is read, so the first bad one ends the parse. Unknown fields of an
 * entry are skipped, as the reference implementation ignores them.
 */
function parseHeader(b: Buffer, path: string, onMetadata: (k: string, v: Record<string, string>) => void, onEntry: (name: string, e: RawEntry) => void): void {
  let i = 0;
  const fail = (msg: string): never => {
    throw new SafetensorsError(path, `header ${msg} (at byte ${8 + i})`);
  };
  const ws = (): void => {
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  };
  const expect = (c: number, what: string): void => {
    ws();
    if (b[i] !== c) fail(`is not valid JSON: expected ${what}`);
    i++;
  };
  const str = (): string => {
    ws();
    if (b[i] !== 0x22) fail('is not valid JSON: expected a string');
    const start = i;
    let escaped = false;
    for (i++; i < b.length && b[i] !== 0x22; i++) {
      if (b[i] === 0x5c) {
        escaped = true;
        i++;
      } else if ((b[i] as number) < 0x20) fail('is not valid JSON: a control character inside a string');
    }
    if (i >= b.length) fail('is not valid JSON: a string is not closed');
    i++;
    if (!escaped) return b.toString('utf8', start + 1, i - 1);
    try {
      return JSON.parse(b.toString('utf8', start, i)) as string;
    } catch {
      return fail('is not valid JSON: a bad escape in a string');
    }
  };
  const num = (): number => {
    const start = i;
    for (; i < b.length; i++) {
      const c = b[i] as number;
      // digits, sign, point, exponent
      if (!((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45)) break;
    }
    const text = b.toString('latin1', start, i);
    if (!JSON_NUMBER.test(text)) fail('is not valid JSON: a bad number');
    return Number(text);
  };
  const word = (w: string, v: unknown): unknown => {
    if (b.toString('latin1', i, i + w.length) !== w) fail('is not valid JSON: unexpected character');
    i += w.length;
    return v;
  };
  /** A value inside an entry: a scalar, or a list of scalars (shape, data_offsets). */
  const value = (depth: number): unknown => {
    ws();
    const c = b[i];
    if (c === 0x22) return str();
    if (c === 0x74) return word('true', true);
    if (c === 0x66) return word('false', false);
    if (c === 0x6e) return word('null', null);
    if (c === 0x5b) {
      if (depth >= 3) fail('nests deeper than the format allows (3 levels)');
      i++;
      const out: unknown[] = [];
      ws();
      if (b[i] === 0x5d) {
        i++;
        return out;
      }
      for (;;) {
        if (out.length >= MAX_TENSOR_DIMS) fail(`has a list longer than ${MAX_TENSOR_DIMS} elements`);
        out.push(value(depth + 1));
        ws();
        if (b[i] === 0x2c) i++;
        else if (b[i] === 0x5d) {
          i++;
          return out;
        } else fail('is not valid JSON: expected , or ]');
      }
    }
    if (c === 0x7b) {
      if (depth >= 3) fail('nests deeper than the format allows (3 levels)');
      object(() => void value(depth + 1));
      return {};
    }
    return num();
  };
  /** An object, calling `field` after each key with the position on its value. */
  const object = (field: (key: string) => void): void => {
    expect(0x7b, '{');
    ws();
    if (b[i] === 0x7d) {
      i++;
      return;
    }
    for (;;) {
      const k = str();
      expect(0x3a, ':');
      field(k);
      ws();
      if (b[i] === 0x2c) i++;
      else if (b[i] === 0x7d) {
        i++;
        return;
      } else fail('is not valid JSON: expected , or }');
    }
  };
  ws();
  if (b[i] !== 0x7b) fail('is not a JSON object');
  object((name) => {
    ws();
    if (name === '__metadata__') {
      if (b[i] !== 0x7b) throw new SafetensorsError(path, '__metadata__ must be an object');
      const meta: Record<string, string> = {};
      object((k) => {
        ws();
        if (b[i] !== 0x22) throw new SafetensorsError(path, `__metadata__.${k} must be a string`);
        meta[k] = str();
      });
      onMetadata(name, meta);
      return;
    }
    if (b[i] !== 0x7b) throw new SafetensorsError(path, `tensor '${name}': entry is not an object`);
    const e: RawEntry = {};
    object((k) => {
      const v = value(2);
      if (k === 'dtype' || k === 'shape' || k === 'data_offsets') e[k] = v;
    });
    onEntry(name, e);
  });
  ws();
  // the reference writer pads the header with spaces; anything else after the object is junk
  if (i < b.length) fail('has data after its JSON object');
}

/** An open safetensors file: header parsed and checked, data read per tensor. */
export class SafetensorsFile {
  readonly entries = new Map<string, TensorEntry>();
  readonly metadata: Record<string, string> = {};
  private fd: number | null;

  private constructor(readonly path: string) {
    try {
      this.fd = openRegularFile(path).fd;
    } catch (e) {
      // "<path>: <reason>" from the file-kind check: keep the reason, as a safetensors error
      throw new SafetensorsError(path, (e as Error).message.startsWith(`${path}: `) ? (e as Error).message.slice(path.length + 2) : (e as Error).message);
    }
    try {
      this.parse();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  static open(path: string): SafetensorsFile {
    if (!existsSync(path)) throw new SafetensorsError(path, 'file not found');
    return new SafetensorsFile(path);
  }

  private parse(): void {
    const fd = this.fd as number;
    const size = fstatSync(fd).size;
    if (size < 8) throw new SafetensorsError(this.path, `file is ${size} bytes, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    readAt(fd, lenBuf, 8, 0, this.path);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) throw new SafetensorsError(this.path, `header length ${n} exceeds the 100 MB limit`);
    const headerLen = Number(n);
    if (8 + headerLen > size) {
      throw new SafetensorsError(this.path, `header length ${headerLen} exceeds the file size ${size}`);
    }
    const hb = Buffer.alloc(headerLen);
    readAt(fd, hb, headerLen, 8, this.path);
    const dataStart = 8 + headerLen;
    const dataLen = size - dataStart;
    const ranges: Array<[number, number, string]> = [];
    parseHeader(hb, this.path, (k, v) => {
      for (const [mk, mv] of Object.entries(v)) this.metadata[mk] = mv as string;
      void k;
    }, (name, e) => {
      if (this.entries.has(name)) throw new SafetensorsError(this.path, `tensor '${name}' appears twice in the header`);
      const dtype = typeof e.dtype === 'string' && Object.hasOwn(ST_TO_DTYPE, e.dtype) ? ST_TO_DTYPE[e.dtype] : undefined;
      if (!dtype) throw new SafetensorsError(this.path, `tensor '${name}': unknown dtype ${JSON.stringify(e.dtype)}`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        throw new SafetensorsError(this.path, `tensor '${name}': shape must be a list of non-negative integers`);
      }
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) || (off[0] as number) > (off[1] as number)) {
        throw new SafetensorsError(this.path, `tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end`);
      }
      const [b, en] = off as [number, number];
      if (en > dataLen) {
        throw new SafetensorsError(this.path, `tensor '${name}': data_offsets [${b}, ${en}] lie outside the ${dataLen} data bytes (truncated file?)`);
      }
      const shape = e.shape as number[];
      const numel = shape.reduce((a, d) => a * d, 1);
      const need = numel * ITEM_SIZE[dtype];
      if (en - b !== need) {
        throw new SafetensorsError(this.path, `tensor '${name}': shape [${shape.join(', ')}] ${dtype} needs ${need} bytes, data_offsets give ${en - b}`);
      }
      if (en > b) ranges.push([b, en, name]); // an empty tensor occupies no bytes, so it overlaps nothing
      this.entries.set(name, { name, dtype, shape, start: dataStart + b, end: dataStart + en });
    });
    ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    for (let i = 1; i < ranges.length; i++) {
      const prev = ranges[i - 1] as [number, number, string];
      const cur = ranges[i] as [number, number, string];
      if (cur[0] < prev[1]) throw new SafetensorsError(this.path, `tensors '${prev[2]}' and '${cur[2]}' overlap`);
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Reads one tensor, optionally converting dtype and moving it to a device. */
  read(name: string, opts: ReadOptions = {}): Tensor {
    const e = this.entries.get(name);
    if (!e) throw new SafetensorsError(this.path, `no tensor named '${name}'`);
    if (this.fd === null) throw new SafetensorsError(this.path, 'file is closed');
    const n = e.end - e.start;
    const buf = Buffer.allocUnsafe(n);
    if (readAt(this.fd, buf, n, e.start, this.path) < n) throw new SafetensorsError(this.path, `tensor '${name}': unexpected end of file`);
    let t: Tensor;
    try {
      t = new Tensor(native().fromBytes(buf, dtypeCode(e.dtype), e.shape));
    } catch (err) {
      throw new SafetensorsError(this.path, `tensor '${name}': ${(err as Error).message}`);
    }
    if ((opts.dtype && opts.dtype !== e.dtype) || (opts.device && opts.device !== 'cpu')) {
      const c = t.to({ dtype: opts.dtype ?? e.dtype, device: opts.device ?? 'cpu' });
      t.dispose();
      t = c;
    }
    return t;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** Reads every tensor of a file into a Map. */
export function loadSafetensors(path: string, opts: ReadOptions = {}): Map<string, Tensor> {
  const f = SafetensorsFile.open(path);
  try {
    return new Map(f.names().map((n) => [n, f.read(n, opts)]));
  } finally {
    f.close();
  }
}

/** Refuses what cannot be saved before anything is written, naming the tensor. */
function checkSavable(path: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new SafetensorsError(path, `tensor '${name}': not a tensor`);
  if (t.isDisposed) throw new SafetensorsError(path, `tensor '${name}': was disposed`);
  if (t.device === 'meta') throw new SafetensorsError(path, `tensor '${name}': a meta tensor has no data`);
}

function headerFor(path: string, tensors: ReadonlyArray<[string, Tensor]>, metadata?: Record<string, string>): { header: Buffer; sizes: number[] } {
  for (const [name, t] of tensors) checkSavable(path, name, t);
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) obj.__metadata__ = metadata;
  let off = 0;
  const sizes: number[] = [];
  for (const [name, t] of tensors) {
    const n = t.numel * ITEM_SIZE[t.dtype];
    obj[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: t.shape, data_offsets: [off, off + n] };
    sizes.push(n);
    off += n;
  }
  let json = Buffer.from(JSON.stringify(obj), 'utf8');
  const pad = (8 - (json.length % 8)) % 8; // keeps the data 8-byte aligned, as the reference writer does
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return { header: Buffer.concat([len, json]), sizes };
}

/** Writes tensors (sorted by name) atomically to one safetensors file. */
export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  const list = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const { header } = headerFor(path, list, metadata);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header);
    for (const [, t] of list) {
      const bytes = t.toBytes();
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

export const INDEX_FILE = 'model.safetensors.index.json';

/**
 * The weights of a Hugging Face model folder: `model.safetensors`, or shards
 * listed in `model.safetensors.index.json` (its weight_map).
 */
export class SafetensorsFolder {
  private readonly files = new Map<string, SafetensorsFile>();
  private readonly where = new Map<string, SafetensorsFile>();

  private constructor(readonly dir: string, readonly prefix: string) {}

  static open(dir: string, prefix = 'model'): SafetensorsFolder {
    const folder = new SafetensorsFolder(dir, prefix);
    const index = join(dir, `${prefix}.safetensors.index.json`);
    const single = join(dir, `${prefix}.safetensors`);
    try {
      if (existsSync(index)) {
        let parsed: Record<string, unknown>;
        try {
          parsed = readJsonObjectFile(index, MAX_CONFIG_FILE_BYTES, 'a safetensors index');
        } catch (e) {
          throw e instanceof UserError ? new SafetensorsError(index, e.message.startsWith(`${index}: `) ? e.message.slice(index.length + 2) : e.message) : e;
        }
        const map = parsed.weight_map;
        if (typeof map !== 'object' || map === null || Array.isArray(map)) {
          throw new SafetensorsError(index, `'weight_map' must be an object of tensor names and shard file names, got ${map === undefined ? 'none' : JSON.stringify(map)}`);
        }
        for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
          if (typeof file !== 'string' || file === '' || file === '.' || file.includes('/') || file.includes('\\') || file.startsWith('..')) {
            throw new SafetensorsError(index, `weight_map['${name}'] must be a file name in the same folder`);
          }
          let f = folder.files.get(file);
          if (!f) {
            f = SafetensorsFile.open(join(dir, file));
            folder.files.set(file, f);
          }
          if (!f.has(name)) throw new SafetensorsError(join(dir, file), `index lists '${name}' but the shard does not hold it`);
          folder.where.set(name, f);
        }
      } else if (existsSync(single)) {
        const f = SafetensorsFile.open(single);
        folder.files.set(basename(single), f);
        for (const n of f.names()) folder.where.set(n, f);
      } else {
        throw new SafetensorsError(dir, `no ${prefix}.safetensors or ${prefix}.safetensors.index.json`);
      }
    } catch (e) {
      folder.close();
      throw e;
    }
    return folder;
  }

  names(): string[] {
    return [...this.where.keys()];
  }
  has(name: string): boolean {
    return this.where.has(name);
  }
  entry(name: string): TensorEntry | undefined {
    return this.where.get(name)?.entries.get(name);
  }
  read(name: string, opts: ReadOptions = {}): Tensor {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(this.dir, `no tensor named '${name}'`);
    return f.read(name, opts);
  }
  metadata(): Record<string, string> {
    return Object.assign({}, ...[...this.files.values()].map((f) => f.metadata)) as Record<string, string>;
  }
  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
  }
}

/**
 * Saves tensors as a Hugging Face weights folder: one `model.safetensors` when
 * they fit in maxShardBytes, else numbered shards plus the index file.
 */
export function saveSafetensorsFolder(
  dir: string,
  tensors: Map<string, Tensor>,
  opts: { maxShardBytes?: number; metadata?: Record<string, string>; prefix?: string } = {},
): void {
  const prefix = opts.prefix ?? 'model';
  const max = opts.maxShardBytes ?? 5 * 1024 ** 3;
  const names = [...tensors.keys()].sort();
  const shards: string[][] = [[]];
  let cur = 0;
  let total = 0;
  for (const n of names) {
    const t = tensors.get(n);
    checkSavable(dir, n, t); // every tensor, before the first shard is written
    const size = t.numel * ITEM_SIZE[t.dtype];
    total += size;
    if (cur + size > max && (shards[shards.length - 1] as string[]).length) {
      shards.push([]);
      cur = 0;
    }
    (shards[shards.length - 1] as string[]).push(n);
    cur += size;
  }
  const metadata = { format: 'pt', ...(opts.metadata ?? {}) };
  if (shards.length === 1) {
    saveSafetensors(join(dir, `${prefix}.safetensors`), tensors, metadata);
    return;
  }
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `${prefix}-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    saveSafetensors(join(dir, file), new Map(shard.map((n) => [n, tensors.get(n) as Tensor])), metadata);
    for (const n of shard) weightMap[n] = file;
  });
  writeJsonAtomic(join(dir, `${prefix}.safetensors.index.json`), { metadata: { total_size: total }, weight_map: weightMap });
}
