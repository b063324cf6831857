import { readFileSync } from 'node:fs';
import { basename, posix } from 'node:path';
import { UserError } from '../util/errors.js';
import { DEFAULT_ENCODE, DEFAULT_MAX_PIXELS, checkPixels, decodeImage, encodeImageToFile, needsOrientation, patchJpegToFile, type EncodeOptions, type RawImage } from './image-io.js';
import { pasteRgb, type RgbPatch } from './pixels.js';
import type { ImageRoot } from './paths.js';
import type { OutputDir } from './output-dir.js';

/**
 * The image side of a rewritten dataset. The output's image root is
 * `OUT/images`: changed images are written under their own prefix
 * (`bdlab-poisoned/<index>-<name>`, ...), unchanged images are placed there
 * under their original relative path without being decoded — hard-linked
 * (copied where a link is not possible), copied or symlinked on request — so
 * the new dataset is self-contained and its records keep their paths.
 *
 * Every name is unique per record: a prefix is never the first folder of an
 * input image path (`uniquePrefix`), and the record index makes the names
 * under a prefix distinct. Files are written through the OutputDir
 * (temporary file + rename), so nothing is ever written through a link.
 * Decoded pixels in flight are bounded by a pixel budget.
 */
export type LinkMode = 'hardlink' | 'copy' | 'symlink';

/** The first of `base`, `base-2`, `base-3`, ... that no input image path starts with. */
export function uniquePrefix(base: string, firstFolders: ReadonlySet<string>): string {
  if (!firstFolders.has(base)) return base;
  for (let k = 2; ; k++) if (!firstFolders.has(`${base}-${k}`)) return `${base}-${k}`;
}

/** The first folder of a relative image path (as written in the output), or '' for a file at the root. */
export function firstFolder(rel: string): string {
  const parts = posix.normalize(rel.replace(/\\/g, '/')).split('/');
  return parts.length > 1 ? (parts[0] as string) : '';
}

export interface StoreOptions {
  link?: LinkMode;
  encode?: EncodeOptions;
  /** Largest width × height decoded; also the budget of decoded pixels in flight. */
  maxPixels?: number;
}

export interface TransformResult {
  /** path relative to the output image root */
  rel: string;
  sha256: string;
  /** false when the operation left every pixel as it was */
  changed: boolean;
  /** thumbnails before and after (with `capture`) */
  before?: RawImage;
  after?: RawImage;
}

/** Images per store whose operation is checked for changing something. */
const CHECK_FIRST = 16;

/** Waits until `n` pixels fit in the budget (an image as large as the whole budget runs alone). */
class PixelBudget {
  private used = 0;
  private readonly waiting: { n: number; go: () => void }[] = [];
  constructor(private readonly total: number) {}

  async take(n: number): Promise<void> {
    const need = Math.min(n, this.total);
    if (this.used + need <= this.total && this.waiting.length === 0) {
      this.used += need;
      return;
    }
    await new Promise<void>((go) => this.waiting.push({ n: need, go }));
  }

  give(n: number): void {
    this.used -= Math.min(n, this.total);
    while (this.waiting.length > 0) {
      const w = this.waiting[0] as { n: number; go: () => void };
      if (this.used + w.n > this.total) break;
      this.waiting.shift();
      this.used += w.n;
      w.go();
    }
  }
}

export class ImageStore {
  private readonly placed = new Set<string>();
  private checked = 0;
  readonly linkMode: LinkMode;
  readonly encode: EncodeOptions;
  readonly maxPixels: number;
  private readonly budget: PixelBudget;

  constructor(
    readonly source: ImageRoot,
    readonly out: OutputDir,
    /** the image root inside the output folder */
    readonly rootRel = 'images',
    o: StoreOptions = {},
  ) {
    this.linkMode = o.link ?? 'hardlink';
    this.encode = o.encode ?? DEFAULT_ENCODE;
    this.maxPixels = o.maxPixels ?? DEFAULT_MAX_PIXELS;
    this.budget = new PixelBudget(this.maxPixels);
  }

  /** Absolute source path of a (checked) relative image path, and its real path. */
  sourcePath(rel: string): { path: string; real: string } {
    const r = this.source.check(rel);
    if ('refused' in r) throw new UserError(r.refused);
    if (r.real === null) throw new UserError(`image "${rel}": no such file: ${r.path}`);
    return { path: r.path, real: r.real };
  }

  private outRel(rel: string): string {
    return posix.join(this.rootRel, posix.normalize(rel.replace(/\\/g, '/')));
  }

  /** Makes an unchanged image available under the output root at the same relative path, without decoding it. */
  linkClean(rel: string): void {
    const dst = this.outRel(rel);
    if (this.placed.has(dst)) return;
    this.placed.add(dst);
    // the real file: a hard link to a symbolic link would copy the link, not the image
    this.out.place(this.sourcePath(rel).real, dst, this.linkMode);
  }

  /**
   * Reads an image, runs `op` on its pixels and writes the result (same
   * format) as `name` under the output image root (e.g.
   * `bdlab-poisoned/12-cat.png`); with `capture`, also returns thumbnails
   * before and after for the preview. With `patch` (the same operation as a
   * rectangle of RGB pixels), a JPEG takes it in its DCT coefficients unless
   * the encode options say `jpegPatch: 'reencode'`.
   */
  async transform(rel: string, name: string, op: (img: RawImage) => void | Promise<void>, capture = false, patch?: (width: number, height: number) => Promise<RgbPatch>): Promise<TransformResult> {
    const src = this.sourcePath(rel).real;
    // images are small: a synchronous read saves thread-pool round trips per image
    let bytes: Buffer;
    try {
      bytes = readFileSync(src);
    } catch (e) {
      throw new UserError(`image "${rel}": cannot read ${src}: ${(e as NodeJS.ErrnoException).code ?? oneLine((e as Error).message)}`);
    }
    const head = checkPixels(bytes, this.maxPixels, `image "${rel}"`);
    const pixels = head.width * head.height;
    await this.budget.take(pixels);
    try {
      // EXIF-rotated files are decoded upright first: the patch is placed on what a viewer shows
      if (patch && head.format === 'jpeg' && this.encode.jpegPatch !== 'reencode' && !needsOrientation(bytes, 'jpeg')) {
        const p = await patch(head.width, head.height);
        const done = await this.patchJpeg(rel, name, bytes, p, capture);
        if (done) return done;
        op = (img) => pasteRgb(img, p); // not 3-component YCbCr: the same rectangle into decoded pixels
      }
      let img: RawImage;
      try {
        img = await decodeImage(bytes, { maxPixels: this.maxPixels, name: `image "${rel}"` });
      } catch (e) {
        throw e instanceof UserError ? e : new UserError(`image "${rel}": cannot decode: ${oneLine((e as Error).message)}`);
      }
      // whether the operation changed anything: checked on the first images (a trigger that changes
      // nothing does so for its parameters, not for one image), so the copy is not paid on every image
      const original = this.checked++ < CHECK_FIRST ? Buffer.from(img.data) : null;
      // the preview needs libvips: loaded only then
      const thumbnail = capture ? (await import('./preview.js')).thumbnail : null;
      const before = thumbnail ? await thumbnail(img) : undefined;
      await op(img);
      const changed = original === null || img.width !== head.width || img.height !== head.height || !original.equals(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength));
      // encoded, hashed and written on a worker thread
      const out = await encodeImageToFile(img, head.format, this.encode, this.out.fresh(posix.join(this.rootRel, name)), { keepBytes: capture }).catch(writeFailed(rel, name));
      const r: TransformResult = { rel: name, sha256: out.sha256, changed };
      if (thumbnail && out.data) {
        r.before = before;
        r.after = await thumbnail(await decodeImage(out.data, { maxPixels: this.maxPixels }));
      }
      return r;
    } finally {
      this.budget.give(pixels);
    }
  }

  /** A patch written into a JPEG's coefficients; null when the file is not 3-component YCbCr. */
  private async patchJpeg(rel: string, name: string, bytes: Buffer, p: RgbPatch, capture: boolean): Promise<TransformResult | null> {
    const out = await patchJpegToFile(bytes, p, this.out.fresh(posix.join(this.rootRel, name)), { keepBytes: capture }).catch(writeFailed(rel, name));
    if (!out) return null;
    const r: TransformResult = { rel: name, sha256: out.sha256, changed: out.changed };
    if (capture && out.data) {
      const { thumbnail } = await import('./preview.js');
      r.before = await thumbnail(await decodeImage(bytes, { maxPixels: this.maxPixels }));
      r.after = await thumbnail(await decodeImage(out.data, { maxPixels: this.maxPixels }));
    }
    return r;
  }
}

/** A failed coding job (encode or patch) as a one-line error naming the image and the file being written. */
function writeFailed(rel: string, name: string): (e: unknown) => never {
  return (e) => {
    throw e instanceof UserError ? e : new UserError(`image "${rel}": cannot write ${name}: ${oneLine((e as Error).message)}`);
  };
}

/** The first line of a library message, without a trailing colon. */
function oneLine(s: string): string {
  return (s.split('\n')[0] ?? '').trim().replace(/:$/, '');
}

/** The output name of a changed image: `<prefix>/<record index>-<file name>`. */
export function changedName(prefix: string, index: number, rel: string): string {
  return `${prefix}/${index}-${basename(rel.replace(/\\/g, '/'))}`;
}
