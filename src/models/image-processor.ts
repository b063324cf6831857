// CLIP image preprocessing (Hugging Face's CLIPImageProcessor) with sharp:
// resize so the shortest edge matches `size.shortest_edge` (bicubic), centre
// crop to `crop_size`, scale to [0, 1], normalise with the processor's mean and
// std, and lay out as [3, H, W] float32. Settings come from the model folder's
// preprocessor_config.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, stack, scope, type Tensor } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import type { RawImage } from '../data/image-io.js';
import { readImageProcessorJson } from './config.js';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export interface ImageProcessorConfig {
  shortestEdge: number;
  cropHeight: number;
  cropWidth: number;
  doResize: boolean;
  doCenterCrop: boolean;
  doNormalize: boolean;
  rescaleFactor: number;
  mean: number[];
  std: number[];
}

export type { RawImage };

/** A file path, encoded image bytes (PNG, JPEG, ...) or raw pixels. */
export type ImageInput = string | Buffer | RawImage;

export function defaultImageProcessorConfig(size: number): ImageProcessorConfig {
  return { shortestEdge: size, cropHeight: size, cropWidth: size, doResize: true, doCenterCrop: true, doNormalize: true, rescaleFactor: 1 / 255, mean: CLIP_MEAN, std: CLIP_STD };
}

/** preprocessor_config.json in Hugging Face's format for a square input size. */
export function preprocessorConfigJson(size: number): Record<string, unknown> {
  return {
    image_processor_type: 'CLIPImageProcessor',
    processor_class: 'LlavaProcessor',
    do_resize: true,
    size: { shortest_edge: size },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: size, width: size },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: CLIP_MEAN,
    image_std: CLIP_STD,
    do_convert_rgb: true,
  };
}

export function readImageProcessorConfig(dir: string, fallbackSize: number): ImageProcessorConfig {
  const path = join(dir, 'preprocessor_config.json');
  if (!existsSync(path)) return defaultImageProcessorConfig(fallbackSize);
  const j = readImageProcessorJson(path, fallbackSize);
  const size = j.size;
  const shortest = typeof size === 'number' ? size : typeof size === 'object' && size !== null ? ((size as Record<string, number>).shortest_edge ?? (size as Record<string, number>).height) : fallbackSize;
  const crop = j.crop_size;
  const ch = typeof crop === 'number' ? crop : typeof crop === 'object' && crop !== null ? (crop as Record<string, number>).height : shortest;
  const cw = typeof crop === 'number' ? crop : typeof crop === 'object' && crop !== null ? (crop as Record<string, number>).width : shortest;
  const nums = (v: unknown, fb: number[]): number[] => (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number') ? (v as number[]) : fb);
  const cfg: ImageProcessorConfig = {
    shortestEdge: Number(shortest),
    cropHeight: Number(ch),
    cropWidth: Number(cw),
    doResize: j.do_resize !== false,
    doCenterCrop: j.do_center_crop !== false,
    doNormalize: j.do_normalize !== false,
    rescaleFactor: j.do_rescale === false ? 1 : typeof j.rescale_factor === 'number' ? j.rescale_factor : 1 / 255,
    mean: nums(j.image_mean, CLIP_MEAN),
    std: nums(j.image_std, CLIP_STD),
  };
  for (const k of ['shortestEdge', 'cropHeight', 'cropWidth'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new UserError(`${path}: image size settings must be positive integers`);
  }
  return cfg;
}

function describe(input: ImageInput): string {
  return typeof input === 'string' ? input : Buffer.isBuffer(input) ? 'image bytes' : `raw ${input.width}x${input.height} image`;
}

/**
 * Any input as RGB pixels through the one decoder (src/data/image-io.ts):
 * EXIF orientation applied, alpha dropped without compositing — PIL's
 * `convert("RGB")`, as Hugging Face's CLIP/LLaVA processors do.
 */
export async function loadRgb(input: ImageInput): Promise<RawImage> {
  // the codec (sharp) loads on first use, so importing the model code stays light
  const { decodeImage, toRgb } = await import('../data/image-io.js');
  if (typeof input !== 'string' && !Buffer.isBuffer(input)) return toRgb(input);
  let bytes: Buffer;
  try {
    bytes = typeof input === 'string' ? readFileSync(input) : input;
  } catch (e) {
    throw new UserError(`${describe(input)}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return toRgb(await decodeImage(bytes, { name: describe(input) }));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${describe(input)}: cannot decode image (${(e as Error).message})`);
  }
}

/** The resize target of Hugging Face's shortest-edge rule. */
export function shortestEdgeSize(width: number, height: number, shortest: number): { width: number; height: number } {
  if (width <= height) return { width: shortest, height: Math.floor((shortest * height) / width) };
  return { width: Math.floor((shortest * width) / height), height: shortest };
}

/** One image as normalised [3, H, W] float32 values. */
export async function preprocessImage(input: ImageInput, cfg: ImageProcessorConfig): Promise<Float32Array> {
  const img = await loadRgb(input);
  const { sharp } = await import('../data/vips.js');
  let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  let w = img.width;
  let h = img.height;
  if (cfg.doResize) {
    ({ width: w, height: h } = shortestEdgeSize(w, h, cfg.shortestEdge));
    s = sharp(await s.resize({ width: w, height: h, fit: 'fill', kernel: 'cubic' }).raw().toBuffer(), { raw: { width: w, height: h, channels: 3 } });
  }
  if (cfg.doCenterCrop) {
    // pad first when the image is smaller than the crop, as Hugging Face does
    const padH = Math.max(0, cfg.cropHeight - h);
    const padW = Math.max(0, cfg.cropWidth - w);
    if (padH || padW) {
      s = sharp(
        await s.extend({ top: Math.floor(padH / 2), bottom: padH - Math.floor(padH / 2), left: Math.floor(padW / 2), right: padW - Math.floor(padW / 2), background: { r: 0, g: 0, b: 0 } }).raw().toBuffer(),
        { raw: { width: w + padW, height: h + padH, channels: 3 } },
      );
      w += padW;
      h += padH;
    }
    const top = Math.floor((h - cfg.cropHeight) / 2);
    const left = Math.floor((w - cfg.cropWidth) / 2);
    s = s.extract({ left, top, width: cfg.cropWidth, height: cfg.cropHeight });
    w = cfg.cropWidth;
    h = cfg.cropHeight;
  }
  const px = await s.raw().toBuffer();
  const out = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) {
    const mean = cfg.doNormalize ? (cfg.mean[c] as number) : 0;
    const std = cfg.doNormalize ? (cfg.std[c] as number) : 1;
    for (let i = 0; i < w * h; i++) out[c * w * h + i] = ((px[i * 3 + c] as number) * cfg.rescaleFactor - mean) / std;
  }
  return out;
}

/** A batch of images as pixel values [N, 3, H, W]. */
export async function preprocessImages(inputs: ImageInput[], cfg: ImageProcessorConfig): Promise<Tensor> {
  const arrays = await Promise.all(inputs.map((i) => preprocessImage(i, cfg)));
  return scope(() => stack(arrays.map((a) => tensor(a, { shape: [3, cfg.cropHeight, cfg.cropWidth] }))));
}
