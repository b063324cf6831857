// safetensors read and write (https://github.com/huggingface/safetensors format):
//   8 bytes little-endian u64 N | N bytes JSON header | raw little-endian data.
// Reading validates the whole header before any data is touched, and reads
// each tensor's bytes on demand, so a large file never sits in the JS heap and
// a malformed one gives a clear error instead of a crash or an out-of-memory.
import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync, existsSync, mkdirSync, fsyncSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { native } from './native.js';
import { dtypeCode, ITEM_SIZE, type DType } from './dtype.js';
import { Tensor, type Device } from './tensor.js';
import { writeJsonAtomic } from '../util/atomic.js';

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

/** The safetensors spec caps the header at 100 MB; larger means a corrupt or hostile file. */
const MAX_HEADER = 100_000_000;

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

/** An open safetensors file: header parsed and checked, data read per tensor. */
export class SafetensorsFile {
  readonly entries = new Map<string, TensorEntry>();
  readonly metadata: Record<string, string> = {};
  private fd: number | null;

  private constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
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
    readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_HEADER)) throw new SafetensorsError(this.path, `header length ${n} exceeds the 100 MB limit`);
    const headerLen = Number(n);
    if (8 + headerLen > size) {
      throw new SafetensorsError(this.path, `header length ${headerLen} exceeds the file size ${size}`);
    }
    const hb = Buffer.alloc(headerLen);
    readSync(fd, hb, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(hb.toString('utf8'));
    } catch (e) {
      throw new SafetensorsError(this.path, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw new SafetensorsError(this.path, 'header is not a JSON object');
    }
    const dataStart = 8 + headerLen;
    const dataLen = size - dataStart;
    const ranges: Array<[number, number, string]> = [];
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SafetensorsError(this.path, '__metadata__ must be an object');
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
          if (typeof v !== 'string') throw new SafetensorsError(this.path, `__metadata__.${k} must be a string`);
          this.metadata[k] = v;
        }
        continue;
      }
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e !== 'object' || e === null) throw new SafetensorsError(this.path, `tensor '${name}': entry is not an object`);
      const dtype = typeof e.dtype === 'string' && Object.hasOwn(ST_TO_DTYPE, e.dtype) ? ST_TO_DTYPE[e.dtype] : undefined;
      if (!dtype) throw new SafetensorsError(this.path, `tensor '${name}': unknown dtype ${JSON.stringify(e.dtype)}`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new SafetensorsError(this.path, `tensor '${name}': shape must be a list of non-negative integers`);
      }
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
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
    }
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
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, buf, got, n - got, e.start + got);
      if (r === 0) throw new SafetensorsError(this.path, `tensor '${name}': unexpected end of file`);
      got += r;
    }
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
        let parsed: { weight_map?: Record<string, unknown> };
        try {
          parsed = JSON.parse(readFileSync(index, 'utf8')) as typeof parsed;
        } catch (e) {
          throw new SafetensorsError(index, `not valid JSON (${(e as Error).message})`);
        }
        if (!parsed.weight_map || typeof parsed.weight_map !== 'object') throw new SafetensorsError(index, 'missing weight_map');
        for (const [name, file] of Object.entries(parsed.weight_map)) {
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
