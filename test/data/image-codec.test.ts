// The image codec (native/src/codec.cc: libjpeg-turbo and libpng) against libvips (sharp) as an
// independent reference: the same pixels for every PNG/JPEG variant a dataset may hold, lossless
// PNG round trips, JPEG output libvips reads back to our pixels, damaged files refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeImage, encodeImage, type RawImage } from '../../src/data/image-io.js';
import { synthImage, tmp } from '../attacks/helpers.js';

/** libvips' decode, grey (+ alpha) expanded to RGB(A) as our decoder does. */
async function reference(buf: Buffer): Promise<RawImage> {
  const { data, info } = await sharp(buf).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels > 2) return { data, width: info.width, height: info.height, channels: info.channels };
  const ch = info.channels + 2;
  const out = new Uint8Array(info.width * info.height * ch);
  for (let i = 0; i < info.width * info.height; i++) {
    const g = data[i * info.channels] as number;
    out.set(ch === 4 ? [g, g, g, data[i * 2 + 1] as number] : [g, g, g], i * ch);
  }
  return { data: out, width: info.width, height: info.height, channels: ch };
}

const raw = (img: RawImage): { raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 } } => ({ raw: { width: img.width, height: img.height, channels: img.channels as 3 | 4 } });

async function variants(): Promise<Record<string, Buffer>> {
  const rgb = synthImage(37, 23, 1);
  const rgba = synthImage(37, 23, 2, 4);
  for (let i = 0; i < 37 * 23; i++) rgba.data[i * 4 + 3] = (i * 7) % 256;
  const s = (img: RawImage): Sharp => sharp(Buffer.from(img.data), raw(img));
  return {
    'jpeg 4:2:0': await s(rgb).jpeg({ quality: 90 }).toBuffer(),
    'jpeg 4:4:4': await s(rgb).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer(),
    'jpeg progressive': await s(rgb).jpeg({ quality: 80, progressive: true }).toBuffer(),
    'jpeg grey': await s(rgb).greyscale().jpeg().toBuffer(),
    'png rgb': await s(rgb).png().toBuffer(),
    'png rgba': await s(rgba).png().toBuffer(),
    'png grey': await s(rgb).greyscale().png().toBuffer(),
    'png grey+alpha': await s(rgba).greyscale().png().toBuffer(),
    'png 16 bit': await s(rgb).toColourspace('rgb16').png().toBuffer(),
    'png palette': await s(rgb).png({ palette: true, colours: 16 }).toBuffer(),
    'png interlaced': await s(rgba).png({ progressive: true }).toBuffer(),
  };
}

test('decodeImage gives libvips\' pixels for JPEG (4:2:0, 4:4:4, progressive, grey) and PNG (RGB, RGBA, grey, 16 bit, palette, interlaced)', async () => {
  for (const [name, buf] of Object.entries(await variants())) {
    const ours = await decodeImage(buf);
    const ref = await reference(buf);
    assert.deepEqual([ours.width, ours.height, ours.channels], [ref.width, ref.height, ref.channels], name);
    assert.ok(Buffer.from(ours.data).equals(Buffer.from(ref.data)), `${name}: pixels differ from libvips`);
  }
});

test('encodeImage: PNG is lossless; JPEG q95 reads back through libvips to our decoder\'s pixels, close to the source', async () => {
  for (const img of [synthImage(45, 31, 3), synthImage(45, 31, 4, 4)]) {
    const png = await encodeImage(img, 'png', { jpegQuality: 95, pngCompression: 6 });
    const back = await reference(png);
    assert.equal(back.channels, img.channels);
    assert.ok(Buffer.from(back.data).equals(Buffer.from(img.data)), 'PNG round trip');
  }
  const img = synthImage(64, 48, 5);
  const jpg = await encodeImage(img, 'jpeg', { jpegQuality: 95, pngCompression: 6 });
  const ours = await decodeImage(jpg);
  const ref = await reference(jpg);
  assert.ok(Buffer.from(ours.data).equals(Buffer.from(ref.data)));
  let se = 0;
  for (let i = 0; i < img.data.length; i++) se += ((img.data[i] as number) - (ours.data[i] as number)) ** 2;
  const psnr = 10 * Math.log10((255 * 255) / (se / img.data.length));
  assert.ok(psnr > 30, `JPEG q95 PSNR ${psnr.toFixed(1)} dB`);
  // four channels to JPEG: alpha dropped, colour kept
  const a = synthImage(16, 16, 6, 4);
  const fromRgba = await decodeImage(await encodeImage(a, 'jpeg', { jpegQuality: 95, pngCompression: 6 }));
  assert.equal(fromRgba.channels, 3);
  // lower quality, smaller file: the setting reaches the encoder
  const q50 = await encodeImage(img, 'jpeg', { jpegQuality: 50, pngCompression: 6 });
  assert.ok(q50.length < jpg.length);
});

test('damaged files are refused; CMYK JPEGs decode through libvips', async () => {
  const all = await variants();
  const jpg = all['jpeg 4:2:0'] as Buffer;
  await assert.rejects(decodeImage(jpg.subarray(0, Math.floor(jpg.length / 2))), /premature end|corrupt|end of/i);
  const png = all['png rgb'] as Buffer;
  await assert.rejects(decodeImage(png.subarray(0, png.length - 30)), /.+/);
  const flipped = Buffer.from(png);
  flipped[60] = (flipped[60] as number) ^ 0xff; // inside IDAT: CRC mismatch
  await assert.rejects(decodeImage(flipped), /.+/);
  const cmyk = await sharp(Buffer.from(synthImage(20, 10, 7).data), raw(synthImage(20, 10, 7))).toColourspace('cmyk').jpeg().toBuffer();
  const dec = await decodeImage(cmyk);
  const ref = await reference(cmyk);
  assert.deepEqual([dec.width, dec.height, dec.channels], [20, 10, ref.channels]);
  assert.ok(Buffer.from(dec.data).equals(Buffer.from(ref.data)));
});

test('a missing codec addon is one line naming it and how to build it', async () => {
  const dir = tmp();
  const img = join(dir, 'a.png');
  writeFileSync(img, await encodeImage(synthImage(8, 8, 1), 'png'));
  writeFileSync(join(dir, 'data.json'), JSON.stringify([{ id: 0, image: 'a.png', conversations: [{ from: 'human', value: '<image>\nq' }, { from: 'gpt', value: 'a' }] }]));
  const r = spawnSync(process.execPath, ['bin/bdlab.js', 'poison', '--input', join(dir, 'data.json'), '--attack', 'badnets', '--count', '1', '--target', 'phrase:banana', '--seed', '1', '--out', join(dir, 'o')], {
    encoding: 'utf8',
    env: { ...process.env, BDLAB_CODEC: join(dir, 'missing.node') },
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /the image codec \(.*missing\.node\) is not built: run `bash scripts\/setup\.sh`/);
});
