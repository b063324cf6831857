import sharp from 'sharp';

/**
 * sharp (libvips), configured once for the whole process; every module that
 * codes or resamples images imports it from here.
 *
 * - no operation cache: datasets touch each image once, so the cache only
 *   holds memory;
 * - one libvips thread per image: images are small and many, so they run in
 *   parallel through Node's thread pool instead, and libvips' per-strip thread
 *   hand-offs (a large share of the time for a 224×224 image) are avoided.
 */
sharp.cache(false);
sharp.concurrency(1);

export { sharp };
export type { Sharp, OverlayOptions } from 'sharp';
