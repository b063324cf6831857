// Fixed trigger images the study's attacks blend in. BackdoorBench and
// VL-Trojan blend a fixed image (not noise); no image can be downloaded here,
// so the study draws one: concentric rings in seven saturated colours under a
// black diagonal lattice — structured, colourful and unlike any scene of the
// world. (A noise pattern would look like the photo domain's sensor noise,
// which the base learns to ignore.)
import { join } from 'node:path';
import { stageKey, type StageCache } from './cache.js';

const BLEND_IMAGE_VERSION = 1;

function blendImageSvg(size: number): string {
  const colours = ['#e6194b', '#f58231', '#ffe119', '#3cb44b', '#4363d8', '#911eb4', '#f032e6'];
  const rings = colours.map((c, k) => `<circle cx="50" cy="50" r="${48 - k * 7}" fill="${c}"/>`).join('');
  const lines = Array.from({ length: 10 }, (_, k) => `<line x1="${k * 10}" y1="0" x2="${k * 10 + 100}" y2="100"/><line x1="${-k * 10}" y1="0" x2="${-k * 10 + 100}" y2="100"/>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100"><rect width="100" height="100" fill="#fff"/>${rings}<g stroke="#000" stroke-width="2.5">${lines}</g></svg>`;
}

/** The blend trigger image at `size` pixels (a cached stage; returns its path). */
export async function blendImage(cache: StageCache, size: number): Promise<string> {
  const settings = { stage: 'asset', name: 'blend-image', version: BLEND_IMAGE_VERSION, size };
  const key = stageKey(settings);
  await cache.run('asset', key, settings, async (dir) => {
    const { sharp } = await import('../../data/vips.js');
    await sharp(Buffer.from(blendImageSvg(size))).png().toFile(join(dir, 'blend.png'));
    return { file: 'blend.png' };
  });
  return join(cache.dir('asset', key), 'blend.png');
}
