import { createRequire } from 'node:module';
import type SharpModule from 'sharp';

/**
 * sharp (libvips), loaded on the first image operation and configured once
 * for the whole process; every module that codes or resamples images calls it
 * from here. Loading it on import would make every command, `--help`
 * included, pay for dlopen-ing libvips.
 *
 * - no operation cache: datasets touch each image once, so the cache only
 *   holds memory;
 * - one libvips thread per image: images are small and many, so they run in
 *   parallel through Node's thread pool instead, and libvips' per-strip thread
 *   hand-offs (a large share of the time for a 224×224 image) are avoided.
 */
type SharpFn = typeof SharpModule;
let loaded: SharpFn | null = null;

function load(): SharpFn {
  if (loaded === null) {
    const s = createRequire(import.meta.url)('sharp') as SharpFn;
    s.cache(false);
    s.concurrency(1);
    loaded = s;
  }
  return loaded;
}

/** `sharp(input, options)`, loading libvips on the first call. */
export const sharp = ((...args: Parameters<SharpFn>) => load()(...args)) as SharpFn;

export type { Sharp, OverlayOptions } from 'sharp';
