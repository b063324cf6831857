// The visual domains: one scene graph, four renderings that keep the content
// (kinds, colours, sizes, places, background) and change the pixel
// statistics strongly. Each domain writes an SVG document (100 × 100 view
// box) that librsvg rasterises through sharp; `photo` and `sketch` then add
// seeded pixel noise or grain. Random choices of a rendering (texture seeds,
// brush strokes, noise) come from the scene's own stream for that domain, so
// a scene renders to the same bytes whatever the order or concurrency.
import { sharp } from '../../vips.js';
import type { RawImage } from '../../image-io.js';
import { Rng } from '../../../util/rng.js';
import { BACKGROUNDS, COLOR_RGB, SIZE_RADIUS, type ColorName, type Scene } from './scene.js';
import { shapePath } from './shapes.js';

export type Rgb = readonly [number, number, number];

export interface VisualDomain {
  readonly name: string;
  readonly summary: string;
  /** The SVG document of the scene. */
  svg(scene: Scene, size: number, rng: Rng): string;
  /** Optional pixel pass after rasterising (RGB, in place). */
  post?(img: RawImage, rng: Rng): void;
}

const hex = (c: Rgb): string => `#${c.map((v) => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, '0')).join('')}`;
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
const lighten = (c: Rgb, t: number): Rgb => mix(c, [255, 255, 255], t);
const darken = (c: Rgb, t: number): Rgb => mix(c, [0, 0, 0], t);
const n2 = (v: number): string => (Math.round(v * 100) / 100).toString();

function rgbToHsl([r, g, b]: Rgb): [number, number, number] {
  const R = r / 255;
  const G = g / 255;
  const B = b / 255;
  const max = Math.max(R, G, B);
  const min = Math.min(R, G, B);
  const l = (max + min) / 2;
  if (max === min) return [0, 0, l];
  const d = max - min;
  const s = l > 0.5 ? d / (2 - max - min) : d / (max + min);
  const h = max === R ? (G - B) / d + (G < B ? 6 : 0) : max === G ? (B - R) / d + 2 : (R - G) / d + 4;
  return [h * 60, s, l];
}

function hslToRgb([h, s, l]: [number, number, number]): Rgb {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const hp = (((h % 360) + 360) % 360) / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] = hp < 1 ? [c, x, 0] : hp < 2 ? [x, c, 0] : hp < 3 ? [0, c, x] : hp < 4 ? [0, x, c] : hp < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

/** The expressionist palette: hues turned, saturation raised; greys tinted warm (light) or indigo (dark). */
export function expressionistColor(c: Rgb): Rgb {
  const [h, s, l] = rgbToHsl(c);
  if (s < 0.08) return l > 0.5 ? [250, 236, 200] : [38, 24, 70];
  return hslToRgb([h + 16, Math.min(1, s * 1.3), 0.12 + 0.8 * l]);
}

interface Placed {
  d: string;
  color: ColorName;
  rgb: Rgb;
  cx: number;
  cy: number;
  r: number;
}

/** Every object's outline in view-box units. */
function placed(scene: Scene): Placed[] {
  const out: Placed[] = [];
  for (const g of scene.groups) {
    const r = SIZE_RADIUS[g.size] * 100;
    for (const o of g.objects) out.push({ d: shapePath(g.kind, o.x * 100, o.y * 100, r, o.angle), color: g.color, rgb: COLOR_RGB[g.color], cx: o.x * 100, cy: o.y * 100, r });
  }
  return out;
}

const open = (size: number): string => `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">`;

/** Adds seeded noise of standard deviation `sigma` to every RGB value; `mono` shares it across channels. */
function addNoise(img: RawImage, rng: Rng, sigma: number, mono: boolean): void {
  const d = img.data;
  const ch = img.channels;
  for (let p = 0; p < img.width * img.height; p++) {
    const shared = mono ? rng.normal() * sigma : 0;
    for (let c = 0; c < 3; c++) {
      const v = (d[p * ch + c] as number) + (mono ? shared : rng.normal() * sigma);
      d[p * ch + c] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
    }
  }
}

/** Value noise in [-1, 1]: a seeded (grid + 1)² lattice, bilinearly interpolated to w × h. */
function smoothField(rng: Rng, grid: number, w: number, h: number): Float32Array {
  const lat = new Float32Array((grid + 1) * (grid + 1));
  for (let i = 0; i < lat.length; i++) lat[i] = rng.float() * 2 - 1;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const gy = ((y + 0.5) / h) * grid;
    const y0 = Math.min(grid - 1, Math.floor(gy));
    const ty = gy - y0;
    for (let x = 0; x < w; x++) {
      const gx = ((x + 0.5) / w) * grid;
      const x0 = Math.min(grid - 1, Math.floor(gx));
      const tx = gx - x0;
      const a = lat[y0 * (grid + 1) + x0] as number;
      const b = lat[y0 * (grid + 1) + x0 + 1] as number;
      const c = lat[(y0 + 1) * (grid + 1) + x0] as number;
      const e = lat[(y0 + 1) * (grid + 1) + x0 + 1] as number;
      out[y * w + x] = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + e * tx) * ty;
    }
  }
  return out;
}

/** Moves every pixel along a smooth seeded displacement field (at most `amp` pixels), bilinear sampling: the painterly wobble. */
function warp(img: RawImage, rng: Rng, grid: number, amp: number): void {
  const { width: w, height: h, channels: ch } = img;
  const fx = smoothField(rng, grid, w, h);
  const fy = smoothField(rng, grid, w, h);
  const src = new Uint8Array(img.data);
  const at = (x: number, y: number, c: number): number => src[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * ch + c] as number;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = x + amp * (fx[y * w + x] as number);
      const sy = y + amp * (fy[y * w + x] as number);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const tx = sx - x0;
      const ty = sy - y0;
      for (let c = 0; c < 3; c++) {
        const v = (at(x0, y0, c) * (1 - tx) + at(x0 + 1, y0, c) * tx) * (1 - ty) + (at(x0, y0 + 1, c) * (1 - tx) + at(x0 + 1, y0 + 1, c) * tx) * ty;
        img.data[(y * w + x) * ch + c] = (v + 0.5) | 0;
      }
    }
  }
}

const FLAT: VisualDomain = {
  name: 'flat',
  summary: 'flat colours, no texture: the clean reference rendering',
  svg(scene, size) {
    const parts = [open(size), `<rect width="100" height="100" fill="${hex(BACKGROUNDS[scene.background].rgb)}"/>`];
    for (const p of placed(scene)) parts.push(`<path d="${p.d}" fill="${hex(p.rgb)}"/>`);
    return parts.join('') + '</svg>';
  },
};

const PHOTO: VisualDomain = {
  name: 'photo',
  summary: 'photo-like: lit gradient background with texture, shaded objects with soft shadows, vignette and sensor noise',
  svg(scene, size) {
    const bg = BACKGROUNDS[scene.background].rgb;
    const parts = [
      open(size),
      '<defs>',
      `<linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(lighten(bg, 0.3))}"/><stop offset="1" stop-color="${hex(darken(bg, 0.3))}"/></linearGradient>`,
    ];
    const objs = placed(scene);
    objs.forEach((p, i) => {
      parts.push(
        `<radialGradient id="g${i}" cx="0.38" cy="0.34" r="0.75"><stop offset="0" stop-color="${hex(lighten(p.rgb, 0.5))}"/>` +
          `<stop offset="0.5" stop-color="${hex(p.rgb)}"/><stop offset="1" stop-color="${hex(darken(p.rgb, 0.5))}"/></radialGradient>`,
      );
    });
    parts.push('</defs>', '<rect width="100" height="100" fill="url(#bg)"/>');
    // a soft shadow: the outline stacked with widening translucent strokes
    for (const p of objs) {
      for (const [w, o] of [[5, 0.12], [2.5, 0.16], [0, 0.22]] as const) {
        parts.push(`<path d="${p.d}" fill="#000" fill-opacity="${o}" stroke="#000" stroke-opacity="${o}" stroke-width="${w}" stroke-linejoin="round" transform="translate(2.2 3)"/>`);
      }
    }
    objs.forEach((p, i) => parts.push(`<path d="${p.d}" fill="url(#g${i})"/>`));
    return parts.join('') + '</svg>';
  },
  post(img, rng) {
    const { width: w, height: h, channels: ch, data: d } = img;
    // texture: two octaves of value noise, coarse for the sky's clouds, fine elsewhere
    const coarse = smoothField(rng, 6, w, h);
    const fine = smoothField(rng, Math.max(8, Math.round(w / 3)), w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const dx = (x + 0.5) / w - 0.5;
        const dy = (y + 0.5) / h - 0.5;
        const i = y * w + x;
        const k = (1 - 0.5 * (dx * dx + dy * dy)) * (1 + 0.1 * (coarse[i] as number) + 0.12 * (fine[i] as number));
        for (let c = 0; c < 3; c++) d[i * ch + c] = Math.min(255, Math.round((d[i * ch + c] as number) * k));
      }
    }
    addNoise(img, rng, 7, false);
  },
};

const SKETCH: VisualDomain = {
  name: 'sketch',
  summary: 'line drawing on paper: coloured outlines drawn twice, hatched fills, hatched background wash, paper grain',
  svg(scene, size, rng) {
    const bg = BACKGROUNDS[scene.background].rgb;
    const paper: Rgb = [246, 243, 234];
    const parts = [
      open(size),
      '<defs>',
      `<pattern id="bgh" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(${35 + rng.int(20)})"><line x1="0" y1="0" x2="0" y2="7" stroke="${hex(darken(bg, 0.15))}" stroke-width="1.1"/></pattern>`,
    ];
    const objs = placed(scene);
    objs.forEach((p, i) => {
      const light = p.color === 'white';
      parts.push(
        `<pattern id="h${i}" width="2.6" height="2.6" patternUnits="userSpaceOnUse" patternTransform="rotate(${-40 - rng.int(15)})">` +
          `<line x1="0" y1="0" x2="0" y2="2.6" stroke="${hex(light ? paper : p.rgb)}" stroke-width="1.1"/></pattern>`,
      );
    });
    parts.push('</defs>', `<rect width="100" height="100" fill="${hex(paper)}"/>`, `<rect width="100" height="100" fill="${hex(bg)}" opacity="0.22"/>`, '<rect width="100" height="100" fill="url(#bgh)" opacity="0.55"/>');
    objs.forEach((p, i) => {
      const line = p.color === 'white' ? '#7a7a7a' : hex(darken(p.rgb, 0.15));
      const jx = n2((rng.float() - 0.5) * 1.6);
      const jy = n2((rng.float() - 0.5) * 1.6);
      parts.push(`<path d="${p.d}" fill="${hex(paper)}"/>`);
      parts.push(`<path d="${p.d}" fill="url(#h${i})"/>`);
      parts.push(`<path d="${p.d}" fill="none" stroke="${line}" stroke-width="1.5" stroke-linejoin="round"/>`);
      parts.push(`<path d="${p.d}" fill="none" stroke="${line}" stroke-width="0.8" opacity="0.6" transform="translate(${jx} ${jy})"/>`);
    });
    return parts.join('') + '</svg>';
  },
  post(img, rng) {
    addNoise(img, rng, 4, true);
  },
};

const EXPRESSIONIST: VisualDomain = {
  name: 'expressionist',
  summary: 'painterly: shifted, saturated palette, visible brush strokes over background and objects, wobbling edges',
  svg(scene, size, rng) {
    const bg = expressionistColor(BACKGROUNDS[scene.background].rgb);
    const objs = placed(scene);
    const parts = [
      open(size),
      '<defs>',
    ];
    objs.forEach((p, i) => parts.push(`<clipPath id="c${i}"><path d="${p.d}"/></clipPath>`));
    parts.push('</defs>', `<rect width="100" height="100" fill="${hex(bg)}"/>`);
    const stroke = (cx: number, cy: number, len: number, width: number, color: Rgb, opacity: number): string => {
      const a = rng.float() * Math.PI;
      const dx = (Math.cos(a) * len) / 2;
      const dy = (Math.sin(a) * len) / 2;
      const bend = (rng.float() - 0.5) * len * 0.6;
      return (
        `<path d="M${n2(cx - dx)},${n2(cy - dy)}Q${n2(cx - dy * 0.3 + bend)},${n2(cy + dx * 0.3 + bend)} ${n2(cx + dx)},${n2(cy + dy)}" ` +
        `stroke="${hex(color)}" stroke-width="${n2(width)}" stroke-linecap="round" fill="none" opacity="${n2(opacity)}"/>`
      );
    };
    for (let k = 0; k < 34; k++) {
      const shade = rng.float() < 0.5 ? lighten(bg, 0.1 + 0.3 * rng.float()) : darken(bg, 0.1 + 0.3 * rng.float());
      parts.push(stroke(rng.float() * 100, rng.float() * 100, 14 + rng.float() * 22, 4 + rng.float() * 5, shade, 0.55 + 0.35 * rng.float()));
    }
    objs.forEach((p, i) => {
      const c = expressionistColor(p.rgb);
      parts.push(`<path d="${p.d}" fill="${hex(c)}" stroke="${hex(darken(c, 0.55))}" stroke-width="1.4"/>`);
      parts.push(`<g clip-path="url(#c${i})">`);
      for (let k = 0; k < 6; k++) {
        const shade = k % 2 === 0 ? lighten(c, 0.25 + 0.2 * rng.float()) : darken(c, 0.2 + 0.2 * rng.float());
        parts.push(stroke(p.cx + (rng.float() - 0.5) * p.r * 1.4, p.cy + (rng.float() - 0.5) * p.r * 1.4, p.r * 1.3, Math.max(1.5, p.r * 0.35), shade, 0.7));
      }
      parts.push('</g>');
    });
    return parts.join('') + '</svg>';
  },
  post(img, rng) {
    warp(img, rng, 5, img.width * 0.03);
  },
};

export const VISUAL_DOMAINS: readonly VisualDomain[] = [FLAT, PHOTO, SKETCH, EXPRESSIONIST];

/** Rasterises a scene in a domain: RGB pixels, `size` × `size`. */
export async function renderScene(domain: VisualDomain, scene: Scene, size: number, seed: number): Promise<RawImage> {
  const rng = new Rng(seed, 'world-render', domain.name, scene.id);
  const svg = domain.svg(scene, size, rng);
  const { data, info } = await sharp(Buffer.from(svg), { density: 72 })
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size) throw new Error(`${domain.name}: rendered ${info.width}x${info.height}, expected ${size}x${size}`);
  const img: RawImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
  domain.post?.(img, rng);
  return img;
}
