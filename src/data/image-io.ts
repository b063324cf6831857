import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import type { RgbPatch } from './pixels.js';

/**
 * The one image type and decoder of backdoor-lab. PNG and JPEG bytes are
 * decoded (codec below) to 8-bit sRGB pixels — RGB, or RGBA when
 * the file has alpha — with the EXIF orientation applied, as Hugging Face's
 * `load_image` does (`ImageOps.exif_transpose`). Attacks and shifts change the
 * RGB channels and keep alpha; files are written back in their own format.
 *
 * The alpha rule for models (`toRgb`): the alpha channel is dropped and each
 * pixel keeps its stored colour, exactly what PIL's `image.convert("RGB")`
 * does and what the CLIP and LLaVA image processors of Hugging Face call
 * (`convert_to_rgb`). Nothing is composited: a fully transparent pixel shows
 * the colour stored under it, not white (Idefics-style processors composite on
 * white; ours does not) and not black.
 *
 * Decoding checks the size from the file header first: images over
 * `maxPixels` (default 50 megapixels) are refused before any pixel memory is
 * allocated.
 *
 * The codec: PNG and JPEG are coded by libpng and libjpeg(-turbo) directly
 * (the `bdlab_codec` addon, native/src/codec.cc) on Node's thread pool, one
 * call per image. sharp costs several times the codec's own time per call on
 * small images (its per-call pipeline set-up), which made it the bottleneck of
 * image poisoning. sharp (libvips) still handles what is rare or not coding:
 * EXIF rotation, CMYK JPEGs, resizing. Both decoders give the same pixels
 * (libjpeg's default integer DCT and fancy upsampling; libpng with expansion,
 * 16 → 8 bits by the high byte, no gamma correction).
 */

/** Decoded pixels: row-major, interleaved, 8 bits per channel; 3 (RGB) or 4 (RGBA) channels. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export type ImageFormat = 'png' | 'jpeg';

/**
 * How a patch trigger reaches a JPEG: `dct` writes it into the file's DCT
 * coefficients (the blocks it touches are re-quantised with the file's own
 * tables, every other block is kept bit for bit: no second compression of the
 * rest of the image); `reencode` decodes, pastes and encodes the whole image
 * at jpegQuality, as a PIL loop does.
 */
export type JpegPatchMode = 'dct' | 'reencode';
export const JPEG_PATCH_MODES: readonly JpegPatchMode[] = ['dct', 'reencode'];

export interface EncodeOptions {
  /** JPEG quality 1–100 (default 95) */
  jpegQuality: number;
  /** PNG zlib level 0–9 (default 6) */
  pngCompression: number;
  /** Patch triggers on JPEGs (default dct). */
  jpegPatch?: JpegPatchMode;
}

export const DEFAULT_ENCODE: EncodeOptions = { jpegQuality: 95, pngCompression: 6, jpegPatch: 'dct' };

/** The largest image decoded by default (width × height): 50 megapixels, above 8K photographs. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/** Format and size read from the header, without decoding. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/** Width and height from a PNG IHDR or a JPEG SOF marker; null when the header cannot be read. */
export function imageHeader(buf: Uint8Array): ImageHeader | null {
  const format = sniffFormat(buf);
  if (format === 'png') {
    if (buf.length < 24) return null;
    const u32 = (o: number): number => (((buf[o] as number) << 24) >>> 0) + ((buf[o + 1] as number) << 16) + ((buf[o + 2] as number) << 8) + (buf[o + 3] as number);
    return { format, width: u32(16), height: u32(20) };
  }
  if (format === 'jpeg') {
    let i = 2;
    while (i + 9 < buf.length) {
      if (buf[i] !== 0xff) return null;
      const m = buf[i + 1] as number;
      if (m === 0xff) {
        i++; // fill byte
        continue;
      }
      const len = ((buf[i + 2] as number) << 8) | (buf[i + 3] as number);
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        const height = ((buf[i + 5] as number) << 8) | (buf[i + 6] as number);
        const width = ((buf[i + 7] as number) << 8) | (buf[i + 8] as number);
        return { format, width, height };
      }
      if (m === 0xda || m === 0xd9) return null;
      i += 2 + len;
    }
  }
  return null;
}

/** Refuses an image whose header says it is larger than `maxPixels` (or gives no size). */
export function checkPixels(buf: Uint8Array, maxPixels: number, what: string): ImageHeader {
  const h = imageHeader(buf);
  if (!h) throw new UserError(`${what}: cannot decode image: not a PNG or JPEG file, or its header gives no size`);
  if (h.width < 1 || h.height < 1) throw new UserError(`${what}: the header gives a size of ${h.width}×${h.height}`);
  if (h.width * h.height > maxPixels) {
    throw new UserError(`${what}: ${h.width}×${h.height} pixels is over the limit of ${maxPixels.toLocaleString('en-US')} (--max-pixels)`);
  }
  return h;
}

/** The format of an encoded image from its magic bytes (those of `buf` from `at`, `length` of them). */
export function sniffFormat(buf: Uint8Array, at = 0, length = buf.length - at): ImageFormat | null {
  if (length >= 8 && buf[at] === 0x89 && buf[at + 1] === 0x50 && buf[at + 2] === 0x4e && buf[at + 3] === 0x47) return 'png';
  if (length >= 3 && buf[at] === 0xff && buf[at + 1] === 0xd8 && buf[at + 2] === 0xff) return 'jpeg';
  return null;
}

/** True when the file carries an EXIF orientation other than 1 (or an EXIF block we cannot read cheaply). */
export function needsOrientation(buf: Uint8Array, fmt: ImageFormat): boolean {
  if (fmt === 'png') {
    // eXIf chunk before the image data
    const idat = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf('IDAT');
    const exif = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf('eXIf');
    return exif !== -1 && (idat === -1 || exif < idat);
  }
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return false;
    const marker = buf[i + 1] as number;
    if (marker === 0xda || marker === 0xd9) return false; // start of scan: no EXIF before the data
    const len = ((buf[i + 2] as number) << 8) | (buf[i + 3] as number);
    if (marker === 0xe1 && len >= 8 && buf[i + 4] === 0x45 && buf[i + 5] === 0x78 && buf[i + 6] === 0x69 && buf[i + 7] === 0x66) {
      return exifOrientation(buf, i + 10, i + 2 + len) !== 1;
    }
    i += 2 + len;
  }
  return false;
}

/** Reads the orientation tag (0x0112) from a TIFF block; 1 when absent, 0 when unreadable. */
function exifOrientation(buf: Uint8Array, start: number, end: number): number {
  if (start + 8 > end) return 0;
  const le = buf[start] === 0x49;
  const u16 = (o: number): number => (le ? (buf[o] as number) | ((buf[o + 1] as number) << 8) : ((buf[o] as number) << 8) | (buf[o + 1] as number));
  const u32 = (o: number): number => (le ? u16(o) + u16(o + 2) * 65536 : u16(o) * 65536 + u16(o + 2));
  const ifd = start + u32(start + 4);
  if (ifd + 2 > end) return 0;
  const n = u16(ifd);
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12;
    if (e + 12 > end) return 0;
    if (u16(e) === 0x0112) return u16(e + 8);
  }
  return 1;
}

export interface DecodeOptions {
  /** Largest width × height accepted (default DEFAULT_MAX_PIXELS), checked on the header before decoding. */
  maxPixels?: number;
  /** Names the image in messages. */
  name?: string;
}

/** Decodes PNG/JPEG bytes to 8-bit sRGB pixels (3 or 4 channels; grey becomes RGB). */
export async function decodeImage(buf: Buffer, opts: DecodeOptions = {}): Promise<RawImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const what = opts.name ?? 'image';
  const h = checkPixels(buf, maxPixels, what);
  const orient = needsOrientation(buf, h.format);
  if (!orient) {
    const r = await codec().decode(buf, maxPixels);
    if (r.status === DecodeStatus.Ok) return { data: r.data as Buffer, width: r.width as number, height: r.height as number, channels: r.channels as number };
    if (r.status === DecodeStatus.Error) throw new Error(r.error ?? 'cannot decode');
    if (r.status === DecodeStatus.TooLarge) throw new UserError(`${what}: over the limit of ${maxPixels.toLocaleString('en-US')} pixels (--max-pixels)`);
    // Unsupported (CMYK/YCCK JPEG): libvips converts it
  }
  return decodeWithSharp(buf, maxPixels, h, orient);
}

/** The libvips decoder, for EXIF rotation and CMYK JPEGs. */
async function decodeWithSharp(buf: Buffer, maxPixels: number, h: ImageHeader, orient: boolean): Promise<RawImage> {
  const { sharp } = await import('./vips.js');
  const sequentialRead = !orient && h.width * h.height > 4_000_000;
  const { data, info } = await sharp(buf, { failOn: 'error', autoOrient: orient, sequentialRead, limitInputPixels: maxPixels }).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  let channels = info.channels as number;
  let px: Uint8Array = data;
  if (channels === 1 || channels === 2) {
    // grey (+ alpha) → RGB(A)
    const n = info.width * info.height;
    const out = new Uint8Array(n * (channels + 2));
    for (let i = 0; i < n; i++) {
      const g = data[i * channels] as number;
      const o = i * (channels + 2);
      out[o] = g;
      out[o + 1] = g;
      out[o + 2] = g;
      if (channels === 2) out[o + 3] = data[i * 2 + 1] as number;
    }
    px = out;
    channels += 2;
  }
  return { data: px, width: info.width, height: info.height, channels };
}

/** Encodes pixels in the given format. */
export async function encodeImage(img: RawImage, fmt: ImageFormat, opts: EncodeOptions = DEFAULT_ENCODE): Promise<Buffer> {
  // JPEG: baseline, 4:2:0, integer DCT, standard Huffman tables (sharp's defaults); PNG: no row filter, zlib level
  return codec().encode(img.data, img.width, img.height, img.channels, fmt, fmt === 'png' ? opts.pngCompression : opts.jpegQuality);
}

/**
 * Where a worker thread writes a file: through the temporary sibling `tmp` (created exclusively,
 * never through a link, renamed over `path`), or with `tmp: null` at `path` itself, created
 * exclusively (an existing file or link there is an error, never followed or replaced).
 */
export interface FileTarget {
  path: string;
  tmp: string | null;
}

/**
 * Encodes pixels and writes them to a file target on a worker thread, where
 * the file is also hashed; its bytes come back only with `keepBytes`.
 */
export async function encodeImageToFile(img: RawImage, fmt: ImageFormat, opts: EncodeOptions, file: FileTarget, o: { keepBytes?: boolean } = {}): Promise<{ sha256: string; data?: Buffer }> {
  return codec().encode(img.data, img.width, img.height, img.channels, fmt, fmt === 'png' ? opts.pngCompression : opts.jpegQuality, file.tmp ?? '', file.path, o.keepBytes ?? false);
}

/**
 * Writes an RGB rectangle into a JPEG's DCT coefficients (codec.cc, PatchJpeg)
 * and the result to the file target. Null when the file is not
 * 3-component YCbCr: the caller pastes into decoded pixels instead. Callers
 * check needsOrientation first: the rectangle is in stored, not displayed,
 * coordinates. The file is hashed where it is coded; its bytes come back only
 * with `keepBytes`. `spliced` says the entropy splice did it (jpeg_patch.cc:
 * only the MCUs from the first touched one are coded again); `splice: false`
 * makes libjpeg's path do it, with the same coefficients.
 */
export async function patchJpegToFile(
  bytes: Buffer,
  patch: RgbPatch,
  file: FileTarget,
  o: { splice?: boolean; keepBytes?: boolean } = {},
): Promise<{ sha256: string; data?: Buffer; changed: boolean; spliced: boolean } | null> {
  const r = await codec().patchJpeg(bytes, patch.rgb, patch.x, patch.y, patch.width, patch.height, file.tmp ?? '', file.path, o.splice ?? true, o.keepBytes ?? false);
  if (r.status === PatchStatus.Unsupported) return null;
  if (r.status === PatchStatus.Error) throw new Error(r.error ?? 'cannot patch');
  return { sha256: r.sha256 as string, data: r.data, changed: r.changed as boolean, spliced: r.spliced as boolean };
}

/** What a path names, from one look at the file system (see probeFiles). */
export type FileKind = 'missing' | 'file' | 'link' | 'not-regular';

const FILE_KINDS: readonly FileKind[] = ['missing', 'file', 'link', 'not-regular'];
const PROBE_RECORD = 18; // native/src/codec.cc: kind, bytes read, 16 bytes

/** The answers of probeFiles, by position: read in place, without an object per file. */
export class FileHeads {
  constructor(private readonly raw: Buffer) {}
  kind(i: number): FileKind {
    return FILE_KINDS[this.raw[i * PROBE_RECORD]!] ?? 'missing';
  }
  /** The image format a regular file's first bytes announce. */
  format(i: number): ImageFormat | null {
    return sniffFormat(this.raw, i * PROBE_RECORD + 2, this.raw[i * PROBE_RECORD + 1]!);
  }
}

/**
 * The kind and first bytes of many files, read on the thread pool (one job
 * for all of them): each is opened without following a final symbolic link
 * and without blocking, so a link, a FIFO or a folder is reported, never
 * read. Null when the codec is not built.
 */
export async function probeFiles(paths: string[]): Promise<FileHeads | null> {
  if (paths.length === 0) return new FileHeads(Buffer.alloc(0));
  let c: Codec;
  try {
    c = codec();
  } catch {
    return null;
  }
  return new FileHeads(await c.probe(paths));
}

/** Resizes pixels (used for trigger patterns given as files; kernel: sharp's lanczos3, or nearest). */
export async function resizeRaw(img: RawImage, width: number, height: number, kernel: 'lanczos3' | 'nearest' | 'linear' = 'lanczos3'): Promise<RawImage> {
  const { sharp } = await import('./vips.js');
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 | 4 } })
    .resize(width, height, { fit: 'fill', kernel })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * The image as RGB, by the alpha rule above (PIL's `convert("RGB")`): alpha
 * dropped, stored colours kept; grey (1 or 2 channels) replicated.
 */
export function toRgb(img: RawImage): RawImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const ch = img.channels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const o = i * ch;
    const grey = ch < 3;
    out[i * 3] = img.data[o] as number;
    out[i * 3 + 1] = img.data[grey ? o : o + 1] as number;
    out[i * 3 + 2] = img.data[grey ? o : o + 2] as number;
  }
  return { data: out, width: img.width, height: img.height, channels: 3 };
}

/** A copy of the pixels. */
export function cloneImage(img: RawImage): RawImage {
  return { data: new Uint8Array(img.data), width: img.width, height: img.height, channels: img.channels };
}

enum DecodeStatus {
  Ok = 0,
  Error = 1,
  Unsupported = 2,
  TooLarge = 3,
}

enum PatchStatus {
  Patched = 0,
  Error = 1,
  Unsupported = 2,
}

interface Codec {
  probe(paths: string[]): Promise<Buffer>;
  patchJpeg(
    bytes: Buffer,
    rgb: Uint8Array,
    x: number,
    y: number,
    width: number,
    height: number,
    tmp: string,
    path: string,
    splice: boolean,
    keepBytes: boolean,
  ): Promise<{ status: PatchStatus; changed?: boolean; spliced?: boolean; sha256?: string; data?: Buffer; error?: string }>;
  decode(bytes: Buffer, maxPixels: number): Promise<{ status: DecodeStatus; data?: Buffer; width?: number; height?: number; channels?: number; error?: string }>;
  encode(pixels: Uint8Array, width: number, height: number, channels: number, format: ImageFormat, level: number): Promise<Buffer>;
  encode(pixels: Uint8Array, width: number, height: number, channels: number, format: ImageFormat, level: number, tmp: string, path: string, keepBytes: boolean): Promise<{ sha256: string; data?: Buffer }>;
}

let loadedCodec: Codec | undefined;

/** The codec addon (native/build/Release/bdlab_codec.node), loaded on first use. */
function codec(): Codec {
  if (loadedCodec) return loadedCodec;
  // dist/src/data/image-io.js and src/data/image-io.ts both sit three levels below the root
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const name = join('native', 'build', 'Release', 'bdlab_codec.node');
  const env = process.env.BDLAB_CODEC;
  const path = (env ? [env] : [join(root, name), join(root, '..', name)]).find((p) => existsSync(p));
  if (!path) throw new UserError(`the image codec (${env ?? name}) is not built: run \`bash scripts/setup.sh\` (it installs libjpeg-dev and libpng-dev and builds it)`);
  loadedCodec = createRequire(import.meta.url)(path) as Codec;
  return loadedCodec;
}
