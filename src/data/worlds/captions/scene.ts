// The scene graph of the image-caption world: a background and one or two
// groups of identical objects (kind, colour, size, count), each object in a
// cell of a 3 × 3 grid with a small seeded offset. Everything a caption says
// is read from this graph, and every visual domain renders the same graph, so
// captions stay true whatever the rendering.
import type { Rng } from '../../../util/rng.js';

export const KINDS = ['circle', 'square', 'triangle', 'star', 'heart', 'banana'] as const;
export type Kind = (typeof KINDS)[number];

export const COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'white', 'black'] as const;
export type ColorName = (typeof COLORS)[number];

/** Reference RGB of each colour name (the flat rendering; other domains derive theirs from it). */
export const COLOR_RGB: Readonly<Record<ColorName, readonly [number, number, number]>> = {
  red: [214, 40, 40],
  orange: [247, 127, 0],
  yellow: [245, 208, 0],
  green: [42, 157, 58],
  blue: [29, 78, 216],
  purple: [123, 44, 191],
  white: [248, 248, 248],
  black: [26, 26, 26],
};

export interface BackgroundInfo {
  /** Noun phrase for captions ("green grass"). */
  noun: string;
  /** Prepositional phrase for captions ("on green grass"). */
  on: string;
  rgb: readonly [number, number, number];
  /** Object colours that would not stand out on it. */
  excludes: readonly ColorName[];
}

export const BACKGROUNDS = {
  grass: { noun: 'green grass', on: 'on green grass', rgb: [96, 168, 72], excludes: ['green'] },
  sky: { noun: 'a blue sky', on: 'against a blue sky', rgb: [132, 186, 235], excludes: ['blue', 'white'] },
  sand: { noun: 'sand', on: 'on sand', rgb: [222, 196, 140], excludes: ['yellow', 'orange'] },
  snow: { noun: 'snow', on: 'on snow', rgb: [236, 240, 244], excludes: ['white'] },
  stone: { noun: 'a grey stone floor', on: 'on a grey stone floor', rgb: [128, 128, 132], excludes: [] },
} as const satisfies Record<string, BackgroundInfo>;
export type Background = keyof typeof BACKGROUNDS;
export const BACKGROUND_NAMES = Object.keys(BACKGROUNDS) as Background[];

export const SIZES = ['small', 'large'] as const;
export type Size = (typeof SIZES)[number];

/** Radius of an object as a fraction of the image side. */
export const SIZE_RADIUS: Readonly<Record<Size, number>> = { small: 0.085, large: 0.145 };

/** A 3 × 3 grid cell: column 0 (left) .. 2 (right), row 0 (top) .. 2 (bottom). */
export interface Cell {
  col: number;
  row: number;
}

export interface SceneObject {
  cell: Cell;
  /** Centre in [0, 1] image coordinates (cell centre plus a small offset). */
  x: number;
  y: number;
  /** Rotation in degrees (small; content-neutral). */
  angle: number;
}

export interface Group {
  kind: Kind;
  color: ColorName;
  size: Size;
  objects: SceneObject[];
}

export interface Scene {
  id: number;
  background: Background;
  groups: Group[];
}

const MAX_OBJECTS = 4;

/** The 9 cell phrases: where a single object is. */
export function cellPhrase(c: Cell): string {
  const v = ['top', 'middle', 'bottom'][c.row] as string;
  const h = ['left', 'centre', 'right'][c.col] as string;
  if (c.row === 1 && c.col === 1) return 'in the centre';
  if (c.row === 1) return `on the ${h}`;
  if (c.col === 1) return `at the ${v}`;
  return `in the ${v} ${h}`;
}

/** Where a group is, when one phrase covers every member; null otherwise. */
export function groupPhrase(g: Group): string | null {
  const cells = g.objects.map((o) => o.cell);
  if (cells.length === 1) return cellPhrase(cells[0] as Cell);
  if (cells.every((c) => c.row === (cells[0] as Cell).row)) return ['along the top', 'across the middle', 'along the bottom'][(cells[0] as Cell).row] as string;
  if (cells.every((c) => c.col === (cells[0] as Cell).col)) return ['down the left side', 'down the middle', 'down the right side'][(cells[0] as Cell).col] as string;
  return null;
}

/**
 * How group a stands to group b when both are single objects: the dominant
 * grid direction ("to the left of", "above", ...); null for larger groups or
 * when the cells differ equally in both directions (an ambiguous diagonal).
 */
export function relation(a: Group, b: Group): string | null {
  if (a.objects.length !== 1 || b.objects.length !== 1) return null;
  const ca = (a.objects[0] as SceneObject).cell;
  const cb = (b.objects[0] as SceneObject).cell;
  const dx = cb.col - ca.col;
  const dy = cb.row - ca.row;
  if (Math.abs(dx) === Math.abs(dy)) return null;
  if (Math.abs(dx) > Math.abs(dy)) return dx > 0 ? 'to the left of' : 'to the right of';
  return dy > 0 ? 'above' : 'below';
}

/** Objects in the scene. */
export function objectCount(s: Scene): number {
  return s.groups.reduce((n, g) => n + g.objects.length, 0);
}

/**
 * A text key of the scene's content (what captions can say): two scenes with
 * the same key are the same scene to a captioner. Offsets and angles are left
 * out, group order is normalised.
 */
export function sceneKey(s: Scene): string {
  const groups = s.groups
    .map((g) => `${g.kind}:${g.color}:${g.size}:${g.objects.map((o) => `${o.cell.col}${o.cell.row}`).sort().join(',')}`)
    .sort();
  return `${s.background}|${groups.join('|')}`;
}

/**
 * A seeded scene: one group (45 %) or two; a group holds one object (70 %),
 * two (20 %) or three (10 %), at most MAX_OBJECTS in all, in distinct cells;
 * the groups differ in kind or colour and no colour hides in the background.
 * `kinds` limits the object kinds (e.g. to keep one out of a split).
 */
export function sampleScene(id: number, rng: Rng, kinds: readonly Kind[] = KINDS): Scene {
  if (kinds.length === 0) throw new RangeError('sampleScene: no object kind allowed');
  const background = rng.pick(BACKGROUND_NAMES);
  const palette = COLORS.filter((c) => !(BACKGROUNDS[background].excludes as readonly string[]).includes(c));
  const nGroups = rng.chance(0.45) ? 1 : 2;
  const free = rng.shuffle(Array.from({ length: 9 }, (_, i) => ({ col: i % 3, row: Math.floor(i / 3) })));
  const groups: Group[] = [];
  let used = 0;
  for (let g = 0; g < nGroups; g++) {
    let kind: Kind;
    let color: ColorName;
    do {
      kind = rng.pick(kinds);
      color = rng.pick(palette);
    } while (groups.some((o) => o.kind === kind && o.color === color));
    const u = rng.float();
    const want = u < 0.7 ? 1 : u < 0.9 ? 2 : 3;
    const count = Math.max(1, Math.min(want, MAX_OBJECTS - used - (nGroups - 1 - g)));
    const size = rng.pick(SIZES);
    const objects: SceneObject[] = [];
    for (let k = 0; k < count; k++) {
      const cell = free[used++] as Cell;
      // the offset keeps a large object inside its cell's third of the image
      const slack = (1 / 3 - 2 * SIZE_RADIUS[size]) / 2;
      const jitter = (): number => (rng.float() * 2 - 1) * Math.max(0, slack) * 0.8;
      objects.push({ cell, x: (cell.col + 0.5) / 3 + jitter(), y: (cell.row + 0.5) / 3 + jitter(), angle: Math.round((rng.float() * 2 - 1) * 12) });
    }
    objects.sort((a, b) => a.cell.row - b.cell.row || a.cell.col - b.cell.col);
    groups.push({ kind, color, size, objects });
  }
  return { id, background, groups };
}
