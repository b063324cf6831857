// A patch written into a JPEG's DCT coefficients (native/src/codec.cc, PatchJpeg): checked
// through libjpeg's own decoder against the source's pixels and the patch, for chroma
// subsampling 4:2:0 and 4:4:4, progressive input, sizes that are no multiple of the block.
// The entropy splice (native/src/jpeg_patch.cc) is checked against libjpeg's coefficient path:
// both must decode to the same pixels, and the splice must keep the source's bytes up to the
// first touched MCU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, encodeImage, patchJpegToFile, type RawImage } from '../../src/data/image-io.js';
import type { RgbPatch } from '../../src/data/pixels.js';
import { synthImage, tmp } from '../attacks/helpers.js';
import { Rng } from '../../src/util/rng.js';

async function jpeg(img: RawImage, o: { quality: number; chromaSubsampling?: string; progressive?: boolean }): Promise<Buffer> {
  return sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg(o).toBuffer();
}

function grid(x: number, y: number, side: number): RgbPatch {
  const rgb = new Uint8Array(side * side * 3);
  for (let py = 0; py < side; py++) {
    for (let px = 0; px < side; px++) {
      const v = (Math.floor((px * 3) / side) + Math.floor((py * 3) / side)) % 2 === 0 ? 255 : 0;
      rgb.fill(v, (py * side + px) * 3, (py * side + px) * 3 + 3);
    }
  }
  return { x, y, width: side, height: side, rgb };
}

let n = 0;
async function patchedBy(bytes: Buffer, p: RgbPatch, splice: boolean): Promise<{ data: Buffer; changed: boolean; spliced: boolean }> {
  const path = join(tmp('bdlab-jpeg-patch-'), `${n++}.jpg`);
  const r = await patchJpegToFile(bytes, p, { path, tmp: null }, { splice, keepBytes: true });
  assert.ok(r?.data, 'a YCbCr JPEG is patched in place');
  const file = readFileSync(path);
  assert.ok(file.equals(r.data), 'the file holds the returned bytes');
  assert.equal(r.sha256, createHash('sha256').update(file).digest('hex'), 'the hash is the file\'s');
  if (!splice) assert.equal(r.spliced, false);
  return { data: r.data, changed: r.changed, spliced: r.spliced };
}

async function patched(bytes: Buffer, p: RgbPatch): Promise<Buffer> {
  return (await patchedBy(bytes, p, true)).data;
}

/** Mean absolute difference over the pixels where `where(x, y)` holds, and the largest. */
function diff(a: RawImage, b: RawImage | ((x: number, y: number, c: number) => number), where: (x: number, y: number) => boolean): { mae: number; max: number } {
  let sum = 0;
  let cnt = 0;
  let max = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (!where(x, y)) continue;
      for (let c = 0; c < 3; c++) {
        const o = (y * a.width + x) * 3 + c;
        const want = typeof b === 'function' ? b(x, y, c) : (b.data[o] as number);
        const d = Math.abs((a.data[o] as number) - want);
        sum += d;
        max = Math.max(max, d);
        cnt++;
      }
    }
  }
  return { mae: cnt ? sum / cnt : 0, max };
}

const CASES = [
  { name: '4:2:0 q90, 224×224', w: 224, h: 224, o: { quality: 90 } },
  { name: '4:2:0 q75, 201×173', w: 201, h: 173, o: { quality: 75 } },
  { name: '4:4:4 q95, 100×60', w: 100, h: 60, o: { quality: 95, chromaSubsampling: '4:4:4' } },
  { name: 'progressive q85, 150×97', w: 150, h: 97, o: { quality: 85, progressive: true } },
];

test('the patch lands in the coefficients: pixels away from it are untouched, the patch reads back within quantisation error', async () => {
  for (const c of CASES) {
    const src = await jpeg(synthImage(c.w, c.h, 3), c.o);
    const before = await decodeImage(src);
    const side = Math.round(0.09375 * Math.min(c.w, c.h));
    for (const p of [grid(c.w - side, c.h - side, side), grid(13, 7, side), grid(0, 0, Math.min(c.w, c.h))]) {
      const out = await patched(src, p);
      const after = await decodeImage(out);
      assert.deepEqual([after.width, after.height], [c.w, c.h], c.name);
      // touched 16×16 cells (the largest MCU), grown by one more cell for chroma upsampling
      const x0 = Math.floor(p.x / 16) * 16 - 16;
      const y0 = Math.floor(p.y / 16) * 16 - 16;
      const x1 = Math.ceil((p.x + p.width) / 16) * 16 + 16;
      const y1 = Math.ceil((p.y + p.height) / 16) * 16 + 16;
      const far = diff(after, before, (x, y) => x < x0 || x >= x1 || y < y0 || y >= y1);
      assert.equal(far.max, 0, `${c.name}: pixels away from the patch changed`);
      const inside = diff(after, (x, y, ch) => p.rgb[((y - p.y) * p.width + (x - p.x)) * 3 + ch] as number, (x, y) => x >= p.x && x < p.x + p.width && y >= p.y && y < p.y + p.height);
      assert.ok(inside.mae < 12, `${c.name}: patch at (${p.x}, ${p.y}) reads back with mean error ${inside.mae.toFixed(2)}`);
    }
  }
});

test('patching an image with its own pixels changes them by rounding only (colour conversion and both DCTs agree with libjpeg)', async () => {
  for (const c of CASES) {
    const src = await jpeg(synthImage(c.w, c.h, 4), c.o);
    const before = await decodeImage(src);
    const p: RgbPatch = { x: 5, y: 9, width: Math.min(40, c.w - 5), height: Math.min(30, c.h - 9), rgb: new Uint8Array(0) };
    p.rgb = new Uint8Array(p.width * p.height * 3);
    for (let y = 0; y < p.height; y++) p.rgb.set(before.data.subarray(((p.y + y) * c.w + p.x) * 3, ((p.y + y) * c.w + p.x + p.width) * 3), y * p.width * 3);
    const after = await decodeImage(await patched(src, p));
    const d = diff(after, before, () => true);
    assert.ok(d.mae < 0.05 && d.max <= 3, `${c.name}: own pixels drift by ${d.mae.toFixed(2)} on average, ${d.max} at most`);
  }
});

test('the same input and patch give the same bytes; a grey JPEG is left to the decoding path', async () => {
  const src = await jpeg(synthImage(64, 48, 5), { quality: 90 });
  const a = await patched(src, grid(40, 20, 9));
  const b = await patched(src, grid(40, 20, 9));
  assert.ok(a.equals(b));
  const grey = await sharp(Buffer.from(synthImage(32, 32, 6).data), { raw: { width: 32, height: 32, channels: 3 } }).toColourspace('b-w').jpeg().toBuffer();
  assert.equal(await patchJpegToFile(grey, grid(0, 0, 4), { path: join(tmp('bdlab-jpeg-patch-'), 'g.jpg'), tmp: null }), null);
});

/** Length of the common prefix of two byte strings. */
function commonPrefix(a: Buffer, b: Buffer): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const SPLICE_CASES = [
  { name: 'libjpeg defaults (4:2:0, standard tables) q90, 224×224', make: (img: RawImage) => encodeImage(img, 'jpeg', { jpegQuality: 90, pngCompression: 6 }) },
  { name: 'libjpeg defaults q100, 201×173', w: 201, h: 173, make: (img: RawImage) => encodeImage(img, 'jpeg', { jpegQuality: 100, pngCompression: 6 }) },
  { name: '4:4:4 standard tables q75, 100×60', w: 100, h: 60, make: (img: RawImage) => jpeg(img, { quality: 75, chromaSubsampling: '4:4:4', optimiseCoding: false } as never) },
  { name: '4:2:0 optimised tables q85, 150×97', w: 150, h: 97, make: (img: RawImage) => jpeg(img, { quality: 85, optimiseCoding: true } as never) },
];

test('the entropy splice gives the coefficients libjpeg gives: same pixels, for patches anywhere, and keeps the bytes before the first touched MCU', async () => {
  let spliced = 0;
  for (const c of SPLICE_CASES) {
    const w = c.w ?? 224;
    const h = c.h ?? 224;
    const src = await c.make(synthImage(w, h, 11));
    const side = Math.max(1, Math.round(0.1 * Math.min(w, h)));
    const patches = [grid(w - side, h - side, side), grid(0, 0, side), grid(37, 21, side + 3), grid(w - 1, h - 1, 1), grid(0, 0, Math.min(w, h)), grid(15, 15, 2)];
    for (const p of patches) {
      const a = await patchedBy(src, p, true);
      const b = await patchedBy(src, p, false);
      const where = `${c.name}, patch ${p.width}² at (${p.x}, ${p.y})`;
      const pa = await decodeImage(a.data);
      const pb = await decodeImage(b.data);
      assert.ok(Buffer.from(pa.data).equals(Buffer.from(pb.data)), `${where}: the splice decodes to other pixels than libjpeg's path`);
      assert.equal(a.changed, b.changed, where);
      if (a.spliced) spliced++;
      if (c.name.startsWith('libjpeg') || c.name.includes('standard')) assert.ok(a.spliced, `${where}: standard tables code every symbol, the splice applies`);
    }
    if (!c.name.includes('optimised')) {
      // a bottom-right trigger: only the last MCU rows are coded again
      const a = await patchedBy(src, patches[0]!, true);
      const keep = commonPrefix(a.data, src);
      assert.ok(keep > 0.6 * src.length, `${c.name}: ${keep} of ${src.length} bytes kept as they were`);
    }
  }
  assert.ok(spliced >= 18, `${spliced} patches spliced`);
});

test('the splice leaves progressive files, truncated files and data after the image to libjpeg\'s rules', async () => {
  const img = synthImage(96, 80, 12);
  const p = grid(80, 64, 10);
  const prog = await jpeg(img, { quality: 85, progressive: true });
  assert.equal((await patchedBy(prog, p, true)).spliced, false, 'progressive: libjpeg path');
  const base = await encodeImage(img, 'jpeg', { jpegQuality: 90, pngCompression: 6 });
  // trailing bytes after the end-of-image marker are not part of the image: dropped, as libjpeg drops them
  const trailing = await patchedBy(Buffer.concat([base, Buffer.from('trailer')]), p, true);
  assert.ok(trailing.spliced);
  assert.ok(trailing.data.subarray(-2).equals(Buffer.from([0xff, 0xd9])));
  // a file cut inside its data is refused by both paths, as libjpeg refuses it
  const cut = base.subarray(0, Math.floor(base.length * 0.7));
  for (const splice of [true, false]) {
    await assert.rejects(patchJpegToFile(cut, p, { path: join(tmp('bdlab-jpeg-patch-'), 'cut.jpg'), tmp: null }, { splice }), /premature|end of|corrupt/i);
  }
});

test('both paths keep the application segments and comments (EXIF, ICC) as they were', async () => {
  const img = synthImage(64, 48, 13);
  const src = await sharp(Buffer.from(img.data), { raw: { width: 64, height: 48, channels: 3 } })
    .withIccProfile('srgb')
    .withExif({ IFD0: { Copyright: 'bdlab test' } })
    .jpeg({ quality: 90, optimiseCoding: false })
    .toBuffer();
  const icc = src.indexOf('ICC_PROFILE');
  const exif = src.indexOf('Exif');
  assert.ok(icc > 0 && exif > 0, 'the source carries both');
  for (const splice of [true, false]) {
    const out = (await patchedBy(src, grid(50, 30, 6), splice)).data;
    for (const [name, at] of [['ICC', icc], ['EXIF', exif]] as const) {
      const seg = src.subarray(at - 4, at - 2 + src.readUInt16BE(at - 2));
      assert.ok(out.includes(seg), `${splice ? 'splice' : 'libjpeg'}: the ${name} segment is kept`);
    }
    assert.ok(out.includes('bdlab test'));
  }
});

test('damaged files: every one of 400 seeded corruptions is patched or refused, never a crash, and where both paths patch they agree', async () => {
  const src = await encodeImage(synthImage(64, 48, 14), 'jpeg', { jpegQuality: 85, pngCompression: 6 });
  const rng = new Rng(7, 'jpeg-damage');
  const p = grid(40, 30, 8);
  const outcome = { both: 0, refused: 0, spliced: 0 };
  for (let k = 0; k < 400; k++) {
    const bad = Buffer.from(src);
    const kind = k % 4;
    if (kind === 0) for (let j = 0; j < 1 + rng.int(4); j++) bad[2 + rng.int(bad.length - 2)] = rng.int(256); // random bytes, headers included
    else if (kind === 1) {
      const at = bad.length - 3 - rng.int(bad.length - 700);
      bad[at] = (bad[at] as number) ^ (1 << rng.int(8)); // one flipped bit in the scan
    }
    else if (kind === 2) bad.writeUInt16BE(rng.int(1 << 16), 4 + rng.int(600)); // a length or table field
    const input = kind === 3 ? bad.subarray(0, 600 + rng.int(bad.length - 600)) : bad; // cut anywhere in the scan
    const run = async (splice: boolean) => {
      try {
        return await patchJpegToFile(input, p, { path: join(tmp('bdlab-jpeg-patch-'), `d${k}.jpg`), tmp: null }, { splice, keepBytes: true });
      } catch {
        return undefined;
      }
    };
    const a = await run(true);
    const b = await run(false);
    if (a?.spliced) outcome.spliced++;
    if (a?.data && b?.data) {
      outcome.both++;
      const pa = await decodeImage(a.data).catch(() => null);
      const pb = await decodeImage(b.data).catch(() => null);
      assert.ok(pa && pb && Buffer.from(pa.data).equals(Buffer.from(pb.data)), `corruption ${k}: the two paths disagree`);
    } else outcome.refused++;
  }
  assert.ok(outcome.both > 50 && outcome.spliced > 20, JSON.stringify(outcome));
});

/** The marker segments of a JPEG up to and including SOS: marker, where it starts, where its payload starts and ends. */
function segments(b: Buffer): { marker: number; at: number; data: number; end: number }[] {
  const out = [];
  let i = 2;
  for (;;) {
    const marker = b[i + 1] as number;
    const end = i + 2 + b.readUInt16BE(i + 2);
    out.push({ marker, at: i, data: i + 4, end });
    if (marker === 0xda) return out;
    i = end;
  }
}

test('crafted tables and scans: the splice refuses what libjpeg refuses, and a table it cannot build does not stop libjpeg', async () => {
  const src = await encodeImage(synthImage(48, 40, 15), 'jpeg', { jpegQuality: 90, pngCompression: 6 });
  const p = grid(30, 20, 8);
  const out = (bytes: Buffer, splice: boolean) => patchJpegToFile(bytes, p, { path: join(tmp('bdlab-jpeg-patch-'), 'c.jpg'), tmp: null }, { splice, keepBytes: true });
  const sos = segments(src).find((g) => g.marker === 0xda)!;

  // an AC table no scan uses, with more 1-bit codes than there are: the splice cannot build it
  // (and must not write past its look-up tables); libjpeg never builds it and patches the file
  const bogus = Buffer.concat([Buffer.from([0xff, 0xc4, 0x00, 2 + 17 + 11, 0x13, 11, ...new Array(15).fill(0)]), Buffer.from(Array.from({ length: 11 }, (_, k) => 0x10 * k + 1))]);
  const withBogus = Buffer.concat([src.subarray(0, sos.at), bogus, src.subarray(sos.at)]);
  const a = await out(withBogus, true);
  const b = await out(withBogus, false);
  assert.equal(a?.spliced, false, 'an unbuildable table: libjpeg path');
  assert.ok(a?.data && b?.data && (await decodeImage(a.data)).data.length === 48 * 40 * 3);

  // the scan's components in another order than the frame's: libjpeg refuses, and so must the splice
  const swapped = Buffer.from(src);
  const [c0, t0] = [swapped[sos.data + 1]!, swapped[sos.data + 2]!];
  swapped[sos.data + 1] = swapped[sos.data + 3]!;
  swapped[sos.data + 2] = swapped[sos.data + 4]!;
  swapped[sos.data + 3] = c0;
  swapped[sos.data + 4] = t0;
  for (const splice of [true, false]) await assert.rejects(out(swapped, splice), /component|SOS/i, `components out of order, splice ${splice}`);

  // a DC table naming a category above 15 (here in place of 11, which this image never codes)
  const dht = segments(src).find((g) => g.marker === 0xc4 && (src[g.data]! >> 4) === 0)!;
  const badDc = Buffer.from(src);
  const nSyms = Array.from({ length: 16 }, (_, k) => src[dht.data + 1 + k]!).reduce((x, y) => x + y, 0);
  badDc[dht.data + 17 + nSyms - 1] = 16;
  for (const splice of [true, false]) await assert.rejects(out(badDc, splice), /huffman/i, `DC category 16, splice ${splice}`);
});
