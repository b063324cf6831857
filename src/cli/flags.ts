import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../util/errors.js';
import { JPEG_PATCH_MODES, type JpegPatchMode } from '../data/image-io.js';

/**
 * Flag parsing shared by every command: numbers with their domain, rates,
 * counts, seeds, `key=value` lists, input files and output folders, and the
 * image-output options of commands that write images. Each refusal is one
 * line naming the flag and the value. Light on purpose: no heavy import here,
 * so `bdlab --help` stays fast.
 */

/** The domain of a numeric flag. */
export interface NumberDomain {
  /** smallest allowed value (inclusive unless `minExclusive`) */
  min?: number;
  minExclusive?: boolean;
  /** largest allowed value (inclusive unless `maxExclusive`) */
  max?: number;
  maxExclusive?: boolean;
  integer?: boolean;
  /** words for the expected value in messages, e.g. "a probability" */
  what?: string;
}

function describeDomain(d: NumberDomain): string {
  const kind = d.what ?? (d.integer ? 'an integer' : 'a number');
  const top = d.max === undefined ? '' : `${d.maxExclusive ? 'below ' : ''}${d.max}`;
  if (d.min !== undefined && d.max !== undefined) return `${kind} ${d.minExclusive ? 'over' : 'from'} ${d.min} ${d.minExclusive ? 'up ' : ''}to ${top}`;
  if (d.min !== undefined) return `${kind} ${d.minExclusive ? '>' : '≥'} ${d.min}`;
  if (d.max !== undefined) return `${kind} ${d.maxExclusive ? '<' : '≤'} ${d.max}`;
  return kind;
}

/** A finite number in its domain; empty text, NaN, ±Infinity, hex and trailing junk are refused. */
export function parseNumber(s: string | undefined, flag: string, d: NumberDomain = {}): number {
  const t = (s ?? '').trim();
  const bad = (): UserError => new UserError(`${flag} "${s ?? ''}": expected ${describeDomain(d)}`);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) throw bad();
  const v = Number(t);
  if (!Number.isFinite(v)) throw bad();
  if (d.integer && !Number.isSafeInteger(v)) throw bad();
  if (d.min !== undefined && (d.minExclusive ? v <= d.min : v < d.min)) throw bad();
  if (d.max !== undefined && (d.maxExclusive ? v >= d.max : v > d.max)) throw bad();
  return v;
}

/** A rate as a fraction ("0.05") or a percentage ("5%"), between 0 and 1. */
export function parseRate(s: string, flag: string): number {
  const t = s.trim();
  const pct = t.endsWith('%');
  const body = pct ? t.slice(0, -1).trim() : t;
  if (body === '') throw new UserError(`${flag} "${s}": expected a number (0.05 or 5%)`);
  let v: number;
  try {
    v = parseNumber(body, flag, {});
  } catch {
    throw new UserError(`${flag} "${s}": expected a number (0.05 or 5%)`);
  }
  const r = pct ? v / 100 : v;
  if (r < 0 || r > 1) throw new UserError(`${flag} "${s}": must be between 0 and 1 (or 0% and 100%)`);
  return r;
}

/** A non-negative integer (digits only), optionally bounded. */
export function parseCount(s: string, flag: string, d: { min?: number; max?: number } = {}): number {
  const t = s.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new UserError(`${flag} "${s}": expected a non-negative integer`);
  const v = Number(t);
  if (d.min !== undefined && v < d.min) throw new UserError(`${flag} "${s}": must be ≥ ${d.min}`);
  if (d.max !== undefined && v > d.max) throw new UserError(`${flag} "${s}": must be ≤ ${d.max}`);
  return v;
}

/** --seed: required, a non-negative integer. */
export function parseSeed(s: string | undefined, flag = '--seed'): number {
  if (s === undefined) throw new UserError(`${flag} is required (same seed, same bytes)`);
  return parseCount(s, flag);
}

/** A rate or a count (not both); undefined when neither is given. */
export function parseAmount(rate: string | undefined, count: string | undefined, rateFlag: string, countFlag: string): { rate: number } | { count: number } | undefined {
  if (rate !== undefined && count !== undefined) throw new UserError(`give ${rateFlag} or ${countFlag}, not both`);
  if (rate !== undefined) return { rate: parseRate(rate, rateFlag) };
  if (count !== undefined) return { count: parseCount(count, countFlag) };
  return undefined;
}

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * `key=value` arguments into a prototype-free map (later repeats win; `-` in
 * keys becomes `_`). An empty value is refused (leave the key out to get its
 * default); `__proto__` and friends are plain unknown keys for the caller's
 * validation, never object magic.
 */
export function parseKeyValues(args: readonly string[], flag: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UserError(`${flag} "${a}": expected key=value`);
    const key = a.slice(0, eq).trim().replace(/-/g, '_');
    const value = a.slice(eq + 1);
    if (key === '') throw new UserError(`${flag} "${a}": expected key=value`);
    if (value.trim() === '') throw new UserError(`${flag} "${a}": empty value (leave ${key} out to use its default)`);
    if (RESERVED_KEYS.has(key)) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

/** Refuses a required flag that is missing. */
export function required<T>(v: T | undefined, flag: string): T {
  if (v === undefined) throw new UserError(`${flag} is required`);
  return v;
}

/** What a path is, without opening it (opening a FIFO would block). */
function kindOf(path: string): string | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    if (code === 'EACCES') return 'unreadable';
    throw e;
  }
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'a socket';
}

/**
 * Refuses an input that is not a readable regular file of JSON or JSONL text,
 * in one line: missing, a folder, a FIFO or device, binary (a NUL byte in the
 * first 4 KB), or text that does not start with "[" or "{".
 */
export function checkInputFile(path: string, flag = '--input'): void {
  const kind = kindOf(path);
  if (kind === 'missing') throw new UserError(`${flag} ${path}: no such file`);
  if (kind === 'unreadable') throw new UserError(`${flag} ${path}: permission denied`);
  if (kind !== null) throw new UserError(`${flag} ${path}: not a regular file (${kind})`);
  const head = Buffer.alloc(4096);
  let n: number;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new UserError(`${flag} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const b = head.subarray(0, n);
  if (n === 0) throw new UserError(`${flag} ${path}: empty file, expected JSON or JSONL`);
  if (b.includes(0)) throw new UserError(`${flag} ${path}: a binary file, not JSON or JSONL text`);
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < n && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  if (i < n && b[i] !== 0x5b && b[i] !== 0x7b) {
    const start = b.subarray(i, Math.min(n, i + 16)).toString('utf8').replace(/[^\x20-\x7e]/g, '?');
    throw new UserError(`${flag} ${path}: not JSON or JSONL (it starts with "${start}")`);
  }
}

/** Refuses an output folder that is a file, or a non-empty folder without --force. */
export function checkOutDir(dir: string, force: boolean, flag = '--out'): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return; // created later
  }
  if (!st.isDirectory()) throw new UserError(`${flag} ${dir}: exists and is not a folder`);
  if (!force && readdirSync(dir).length > 0) throw new UserError(`${flag} ${dir}: folder is not empty (use --force to replace a previous run's files)`);
}

/** The image-output flags as commander gives them. */
export interface ImageOutputFlags {
  link: string;
  jpegQuality: string;
  jpegPatch: string;
  pngCompression: string;
  concurrency: string;
  maxPixels: string;
}

export interface ImageOutput {
  link: 'hardlink' | 'copy' | 'symlink';
  encode: { jpegQuality: number; pngCompression: number; jpegPatch: JpegPatchMode };
  concurrency: number;
  maxPixels: number;
}

/** Adds --link, --jpeg-quality, --png-compression, --max-pixels and --concurrency to a command that writes images. */
export function imageOutputOptions(cmd: Command): Command {
  return cmd
    .option('--link <mode>', 'how unchanged images reach DIR/images, without decoding: hardlink (copied across devices), copy or symlink', 'hardlink')
    .option('--jpeg-quality <q>', 'quality of re-encoded JPEGs, 1..100', '95')
    .option(
      '--jpeg-patch <mode>',
      'patch triggers (BadNets) on JPEGs: dct writes the patch into the DCT coefficients, re-quantising only the 8×8 blocks it touches with the file\'s own tables (the rest of the image stays bit for bit); reencode decodes, pastes and encodes all of it at --jpeg-quality',
      'dct',
    )
    .option('--png-compression <l>', 'zlib level of re-encoded PNGs, 0..9', '6')
    .option('--max-pixels <n>', 'largest image decoded (width × height, checked on the file header first)', '50000000')
    .option('--concurrency <n>', 'records in flight (image work overlaps)', '16');
}

export function parseImageOutput(f: ImageOutputFlags): ImageOutput {
  if (f.link !== 'hardlink' && f.link !== 'copy' && f.link !== 'symlink') throw new UserError(`--link must be hardlink, copy or symlink, got "${f.link}"`);
  return {
    link: f.link,
    encode: {
      jpegQuality: parseCount(f.jpegQuality, '--jpeg-quality', { min: 1, max: 100 }),
      pngCompression: parseCount(f.pngCompression, '--png-compression', { max: 9 }),
      jpegPatch: parseJpegPatch(f.jpegPatch),
    },
    concurrency: parseCount(f.concurrency, '--concurrency', { min: 1, max: 1024 }),
    maxPixels: parseCount(f.maxPixels, '--max-pixels', { min: 1 }),
  };
}

function parseJpegPatch(v: string): JpegPatchMode {
  if (!(JPEG_PATCH_MODES as readonly string[]).includes(v)) throw new UserError(`--jpeg-patch must be ${JPEG_PATCH_MODES.join(' or ')}, got "${v}"`);
  return v as JpegPatchMode;
}

/** `--preview [n]`: absent 0, bare 8, else a count. */
export function parsePreview(v: string | boolean | undefined): number {
  if (v === undefined || v === false) return 0;
  if (v === true) return 8;
  return parseCount(v, '--preview', { max: 1000 });
}
