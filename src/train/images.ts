// Preprocessed images for a training run: every distinct image goes through
// the model's image processor once per run (not once per epoch) and is kept
// as float32 pixels — in memory up to a budget, else in a scratch file read
// back per batch — so a training step only copies pixels into a tensor.
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import * as T from '../engine/index.js';
import { preprocessImage, type ImageProcessorConfig } from '../models/image-processor.js';
import { Progress } from '../util/progress.js';

/** Default in-memory budget for preprocessed pixels. */
const DEFAULT_IMAGE_CACHE_BYTES = 1024 ** 3;

export interface PixelCacheOptions {
  /** Bytes of pixels kept in memory; beyond it they go to `spillFile`. */
  budgetBytes?: number;
  /** Scratch file for pixels over the budget (removed by dispose()). */
  spillFile?: string;
  /** Images preprocessed at once. */
  concurrency?: number;
  label?: string;
}

export class PixelCache {
  private constructor(
    readonly count: number,
    readonly shape: [number, number, number],
    private readonly memory: Float32Array | null,
    private readonly spill: { path: string; fd: number } | null,
  ) {}

  /** Floats per image. */
  get imageSize(): number {
    return this.shape[0] * this.shape[1] * this.shape[2];
  }

  /** Preprocesses every image (paths already checked) in order. */
  static async build(paths: readonly string[], cfg: ImageProcessorConfig, o: PixelCacheOptions = {}): Promise<PixelCache> {
    const shape: [number, number, number] = [3, cfg.cropHeight, cfg.cropWidth];
    const per = shape[0] * shape[1] * shape[2];
    const bytes = paths.length * per * 4;
    const inMemory = bytes <= (o.budgetBytes ?? DEFAULT_IMAGE_CACHE_BYTES) || !o.spillFile;
    const memory = inMemory ? new Float32Array(paths.length * per) : null;
    const fd = inMemory ? null : openSync(o.spillFile as string, 'w+');
    const progress = new Progress({ label: o.label ?? 'train: images', total: paths.length, unit: 'img' });
    const window = Math.max(1, o.concurrency ?? 8);
    try {
      for (let i = 0; i < paths.length; i += window) {
        const chunk = paths.slice(i, i + window);
        const arrays = await Promise.all(chunk.map((p) => preprocessImage(p, cfg)));
        arrays.forEach((a, j) => {
          if (memory) memory.set(a, (i + j) * per);
          else writeSync(fd as number, new Uint8Array(a.buffer, a.byteOffset, a.byteLength), 0, a.byteLength, (i + j) * per * 4);
        });
        progress.tick(chunk.length);
      }
    } catch (e) {
      if (fd !== null) {
        closeSync(fd);
        rmSync(o.spillFile as string, { force: true });
      }
      throw e;
    }
    progress.finish();
    return new PixelCache(paths.length, shape, memory, fd === null ? null : { path: o.spillFile as string, fd });
  }

  /** Pixel values [n, 3, H, W] of these images, in order. */
  tensor(indices: readonly number[], device: T.Device = 'cpu'): T.Tensor {
    const per = this.imageSize;
    const out = new Float32Array(indices.length * per);
    indices.forEach((img, k) => {
      if (!Number.isInteger(img) || img < 0 || img >= this.count) throw new RangeError(`PixelCache: image ${img} out of range`);
      if (this.memory) out.set(this.memory.subarray(img * per, (img + 1) * per), k * per);
      else readSync((this.spill as { fd: number }).fd, new Uint8Array(out.buffer, k * per * 4, per * 4), 0, per * 4, img * per * 4);
    });
    return T.tensor(out, { shape: [indices.length, ...this.shape], device });
  }

  /** Where the pixels live (for the run's record). */
  get storage(): 'memory' | 'file' {
    return this.memory ? 'memory' : 'file';
  }

  dispose(): void {
    if (this.spill) {
      closeSync(this.spill.fd);
      rmSync(this.spill.path, { force: true });
    }
  }
}
