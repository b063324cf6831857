// The one image decoder: sizes from headers, the pixel limit, and the alpha rule checked against
// PIL's convert("RGB") (run with /usr/bin/python3 when PIL is installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, imageHeader, toRgb, type RawImage } from '../../src/data/image-io.js';
import { loadRgb } from '../../src/models/image-processor.js';
import { tmp } from '../attacks/helpers.js';

/** An RGBA test image with transparent, half-transparent and opaque pixels of distinct colours. */
function rgba(w: number, h: number): RawImage {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([(i * 37) % 256, (i * 91) % 256, (i * 13) % 256, [0, 128, 255][i % 3] as number], i * 4);
  return { data, width: w, height: h, channels: 4 };
}

test('imageHeader reads PNG and JPEG sizes without decoding', async () => {
  const raw = Buffer.alloc(30 * 17 * 3, 99);
  const png = await sharp(raw, { raw: { width: 30, height: 17, channels: 3 } }).png().toBuffer();
  const jpg = await sharp(raw, { raw: { width: 30, height: 17, channels: 3 } }).jpeg().toBuffer();
  const prog = await sharp(raw, { raw: { width: 30, height: 17, channels: 3 } }).jpeg({ progressive: true }).toBuffer();
  for (const b of [png, jpg, prog]) assert.deepEqual([imageHeader(b)?.width, imageHeader(b)?.height], [30, 17]);
  assert.equal(imageHeader(Buffer.from('GIF89a')), null);
  await assert.rejects(decodeImage(png, { maxPixels: 500 }), /30×17 pixels is over the limit of 500/);
});

test('the alpha rule: RGBA keeps alpha for attacks; toRgb and the model processor drop it without compositing, as PIL convert("RGB")', async () => {
  const img = rgba(7, 5);
  const png = await sharp(Buffer.from(img.data), { raw: { width: 7, height: 5, channels: 4 } }).png().toBuffer();
  const dec = await decodeImage(png);
  assert.equal(dec.channels, 4);
  assert.deepEqual([...dec.data], [...img.data], 'RGBA decodes exactly');
  const rgb = toRgb(dec);
  const model = await loadRgb(png);
  assert.deepEqual([...model.data], [...rgb.data], 'the model processor uses the same rule');
  for (let i = 0; i < 35; i++) assert.deepEqual([...rgb.data.subarray(i * 3, i * 3 + 3)], [...img.data.subarray(i * 4, i * 4 + 3)], 'stored colour kept, alpha ignored');
  const grey = toRgb({ data: Uint8Array.from([10, 200, 30, 40]), width: 2, height: 1, channels: 2 });
  assert.deepEqual([...grey.data], [10, 10, 10, 30, 30, 30]);
  const py = spawnSync('/usr/bin/python3', ['-c', 'import PIL'], { stdio: 'ignore' });
  if (py.status !== 0) return; // the independent reference needs python3-pil
  const dir = tmp();
  writeFileSync(join(dir, 'a.png'), png);
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys; from PIL import Image; sys.stdout.write(Image.open(sys.argv[1]).convert("RGB").tobytes().hex())', join(dir, 'a.png')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Buffer.from(rgb.data).toString('hex'), r.stdout, 'same bytes as PIL convert("RGB")');
});
