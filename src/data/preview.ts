import { sharp, type OverlayOptions } from './vips.js';
import type { RawImage } from './image-io.js';
import type { Sample, SampleId } from './sample.js';
import { stringifyJson, type JsonRaw } from './json-text.js';

/**
 * `--preview`: a text diff of original versus poisoned (or shifted) samples (word-level, with
 * `[-removed-]` and `{+added+}`) and, when images changed, a PNG contact sheet
 * with one row per sample: clean | poisoned | |difference| × 4.
 */
export interface PreviewItem {
  index: number;
  id: SampleId | JsonRaw;
  before: Sample;
  after: Sample;
  beforeImage?: RawImage;
  afterImage?: RawImage;
}

const CELL = 192;
const PAD = 8;
const MAX_TEXT = 400;

function clip(s: string): string {
  const one = s.replace(/\n/g, '\\n');
  return one.length > MAX_TEXT ? one.slice(0, MAX_TEXT) + ` … (${one.length} chars)` : one;
}

/** Word-level diff (LCS over space-separated words) in the `[-a-] {+b+}` notation. */
function wordDiff(a: string, b: string): string {
  const x = a.split(' ');
  const y = b.split(' ');
  const n = x.length;
  const m = y.length;
  if (n * m > 250_000) return `[-${a}-] {+${b}+}`;
  const L = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * (m + 1) + j] = x[i] === y[j] ? (L[(i + 1) * (m + 1) + j + 1] as number) + 1 : Math.max(L[(i + 1) * (m + 1) + j] as number, L[i * (m + 1) + j + 1] as number);
    }
  }
  const out: string[] = [];
  const del: string[] = [];
  const add: string[] = [];
  const flush = (): void => {
    if (del.length) out.push(`[-${del.join(' ')}-]`);
    if (add.length) out.push(`{+${add.join(' ')}+}`);
    del.length = 0;
    add.length = 0;
  };
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      flush();
      out.push(x[i] as string);
      i++;
      j++;
    } else if (j < m && (i === n || (L[i * (m + 1) + j + 1] as number) >= (L[(i + 1) * (m + 1) + j] as number))) {
      add.push(y[j++] as string);
    } else {
      del.push(x[i++] as string);
    }
  }
  flush();
  return out.join(' ');
}

function previewText(items: readonly PreviewItem[], what = 'poisoned'): string {
  const lines = [`# bdlab preview: ${items.length} ${what} sample(s), original → ${what}; word diff: [-removed-] {+added+}`];
  for (const it of items) {
    lines.push(`@@ record ${it.index} (id ${stringifyJson(it.id)})`);
    const fields: [string, string, string][] = [
      ['instruction', it.before.instruction, it.after.instruction],
      ['input', it.before.input, it.after.input],
      ['output', it.before.output, it.after.output],
    ];
    for (const [name, a, b] of fields) {
      if (a === b) continue;
      lines.push(`- ${name}: ${clip(a)}`, `+ ${name}: ${clip(b)}`);
      const d = wordDiff(a, b);
      if (d !== `[-${a}-] {+${b}+}` && a !== '' && b !== '') lines.push(`~ ${name}: ${clip(d)}`);
    }
    const ca = it.before.captions ?? [];
    const cb = it.after.captions ?? [];
    for (let k = 0; k < Math.max(ca.length, cb.length); k++) {
      if (ca[k] !== cb[k]) lines.push(`- caption ${k}: ${clip(ca[k] ?? '')}`, `+ caption ${k}: ${clip(cb[k] ?? '')}`);
    }
    if (it.before.image !== it.after.image) lines.push(`  image: ${it.before.image ?? ''} → ${it.after.image ?? ''}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * A thumbnail of at most CELL×CELL (nearest neighbour, alpha dropped): what
 * the preview keeps of an image, so a preview of huge images stays small.
 * Thumbnails of two images of the same size sample the same pixels, so their
 * difference is the difference of the images at those pixels.
 */
export async function thumbnail(img: RawImage): Promise<RawImage> {
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 | 4 } })
    .removeAlpha()
    .resize(CELL, CELL, { fit: 'inside', kernel: 'nearest' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

function diffImage(a: RawImage, b: RawImage): RawImage {
  const out = new Uint8Array(a.width * a.height * 3);
  for (let p = 0; p < a.width * a.height; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.min(255, 4 * Math.abs((a.data[p * a.channels + c] as number) - (b.data[p * b.channels + c] as number)));
  }
  return { data: out, width: a.width, height: a.height, channels: 3 };
}

/** The contact sheet as PNG bytes, or null when no item has images. */
async function contactSheet(items: readonly PreviewItem[]): Promise<Buffer | null> {
  const rows = items.filter((it) => it.beforeImage && it.afterImage);
  if (rows.length === 0) return null;
  const width = 3 * CELL + 4 * PAD;
  const height = rows.length * (CELL + PAD) + PAD;
  const layers: OverlayOptions[] = [];
  for (let r = 0; r < rows.length; r++) {
    const it = rows[r] as PreviewItem;
    const a = it.beforeImage as RawImage;
    const b = it.afterImage as RawImage;
    const cells = [a, b];
    if (a.width === b.width && a.height === b.height) cells.push(diffImage(a, b));
    for (let c = 0; c < cells.length; c++) {
      const t = await thumbnail(cells[c] as RawImage);
      layers.push({
        input: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        raw: { width: t.width, height: t.height, channels: 3 },
        left: PAD + c * (CELL + PAD) + Math.floor((CELL - t.width) / 2),
        top: PAD + r * (CELL + PAD) + Math.floor((CELL - t.height) / 2),
      });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 40, b: 40 } } })
    .composite(layers)
    .png()
    .toBuffer();
}

/** Where the preview files go (an OutputDir). */
export interface FileSink {
  writeFile(rel: string, data: string | Uint8Array): void;
}

/** Writes preview.txt (and preview.png when images changed); returns the files written. */
export async function writePreview(out: FileSink, items: readonly PreviewItem[], what = 'poisoned'): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  out.writeFile('preview.txt', previewText(items, what));
  files.preview_text = 'preview.txt';
  const png = await contactSheet(items);
  if (png) {
    out.writeFile('preview.png', png);
    files.preview_image = 'preview.png';
  }
  return files;
}
