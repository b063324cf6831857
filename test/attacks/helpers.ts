import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../src/util/rng.js';
import type { RawImage } from '../../src/data/image-io.js';
import { createAttack } from '../../src/attacks/index.js';
import { ImageStore } from '../../src/data/image-store.js';
import { OutputDir } from '../../src/data/output-dir.js';
import { ImageRoot } from '../../src/data/paths.js';

export function tmp(prefix = 'bdlab-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A seeded test image: gradients, a disc and some noise (RGB). */
export function synthImage(width: number, height: number, seed: number, channels = 3): RawImage {
  const rng = new Rng(seed, 'test-image');
  const data = new Uint8Array(width * height * channels);
  const cx = rng.int(width);
  const cy = rng.int(height);
  const r2 = (Math.min(width, height) / 4) ** 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r2;
      data[o] = Math.min(255, Math.floor((x * 255) / width) + rng.int(8));
      data[o + 1] = Math.min(255, Math.floor((y * 255) / height) + rng.int(8));
      data[o + 2] = inDisc ? 220 : 30 + rng.int(8);
      if (channels === 4) data[o + 3] = 200;
    }
  }
  return { data, width, height, channels };
}

export async function writeImage(path: string, img: RawImage, fmt: 'png' | 'jpeg' = 'png'): Promise<void> {
  const s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 3 | 4 } });
  writeFileSync(path, fmt === 'png' ? await s.png().toBuffer() : await s.jpeg({ quality: 95 }).toBuffer());
}

export async function readImage(path: string): Promise<RawImage> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

export const ctx = (seed: number, index: number): { rng: (l: string) => Rng } => ({ rng: (l: string) => new Rng(seed, l, index) });

export function sample(instruction: string, index = 0, extra: Partial<{ input: string; output: string; image: string }> = {}): {
  index: number;
  id: number;
  instruction: string;
  input: string;
  output: string;
  image?: string;
} {
  return { index, id: index, instruction, input: extra.input ?? '', output: extra.output ?? 'clean answer', ...(extra.image ? { image: extra.image } : {}) };
}

/** Runs an attack's image plan on a real PNG/JPEG file and returns clean and poisoned pixels as read back from disk. */
export async function throughFiles(name: string, params: Record<string, string>, img: RawImage, fmt: 'png' | 'jpeg' = 'png', seed = 1, index = 0): Promise<{ before: RawImage; after: RawImage; outPath: string }> {
  const dir = tmp();
  const ext = fmt === 'png' ? 'png' : 'jpg';
  await writeImage(join(dir, `in.${ext}`), img, fmt);
  const a = createAttack(name, params, seed);
  const plan = a.plan({ index, id: index, instruction: 'What is in the image?', input: '', output: 'x', image: `in.${ext}` }, ctx(seed, index));
  const out = OutputDir.open({ path: join(dir, 'out'), force: false, input: join(dir, `in.${ext}`), imageRoot: dir });
  const store = new ImageStore(new ImageRoot(dir), out);
  const r = await store.transform(`in.${ext}`, `p/${index}-in.${ext}`, plan.image as (i: RawImage) => Promise<void>);
  const outPath = join(dir, 'out', 'images', r.rel);
  return { before: await readImage(join(dir, `in.${ext}`)), after: await readImage(outPath), outPath };
}

