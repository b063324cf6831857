// Reference captions read off the scene graph. Three answer styles, five
// distinct captions each: `standard` (one sentence, as COCO captions),
// `summary` (a few words) and `expanded` (several sentences: sizes, places,
// background, relation, count). Every template only states what the graph
// holds (colour, kind, size, count, cell, relation, background), so every
// caption is true of every rendering of the scene.
import type { Rng } from '../../../util/rng.js';
import { BACKGROUNDS, cellPhrase, groupPhrase, objectCount, relation, type Group, type Scene } from './scene.js';

export const ANSWER_STYLES = ['standard', 'summary', 'expanded'] as const;
export type AnswerStyle = (typeof ANSWER_STYLES)[number];

export const CAPTIONS_PER_SCENE = 5;

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five'];

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function article(next: string): string {
  return /^[aeiou]/i.test(next) ? 'an' : 'a';
}

function plural(kind: string): string {
  return `${kind}s`;
}

/** "a red circle", "two small blue stars"; `the` for the definite form of a single object. */
export function nounPhrase(g: Group, o: { size?: boolean; definite?: boolean } = {}): string {
  const n = g.objects.length;
  const words = [...(o.size ? [g.size] : []), g.color, n === 1 ? g.kind : plural(g.kind)].join(' ');
  if (n === 1) return `${o.definite ? 'the' : article(words)} ${words}`;
  return `${o.definite ? 'the ' : ''}${NUMBER_WORDS[n]} ${words}`;
}

/** Where each member of a group is: one phrase, or "one in the top left and one at the bottom". */
function placeOf(g: Group): string {
  const p = groupPhrase(g);
  if (p !== null) return p;
  const parts = g.objects.map((o) => `one ${cellPhrase(o.cell)}`);
  return parts.length === 2 ? `${parts[0]} and ${parts[1]}` : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

const INVERSE: Readonly<Record<string, string>> = { 'to the left of': 'to the right of', 'to the right of': 'to the left of', above: 'below', below: 'above' };

function be(g: Group): string {
  return g.objects.length === 1 ? 'is' : 'are';
}

/** Every standard caption the templates can make for this scene (distinct, in template order). */
function standardCandidates(s: Scene): string[] {
  const bg = BACKGROUNDS[s.background];
  const out: string[] = [];
  const [g1, g2] = s.groups as [Group, Group | undefined];
  if (!g2) {
    const loc = groupPhrase(g1);
    out.push(`${cap(nounPhrase(g1))} ${bg.on}.`);
    out.push(`A picture of ${nounPhrase(g1)} ${bg.on}.`);
    out.push(`${cap(bg.noun)} with ${nounPhrase(g1, { size: true })}.`);
    if (loc) {
      out.push(`${cap(nounPhrase(g1))} ${loc}.`);
      out.push(`There ${be(g1)} ${nounPhrase(g1, { size: true })} ${loc} ${bg.on}.`);
      out.push(`An image of ${nounPhrase(g1, { size: true })} ${loc}.`);
      out.push(`${cap(nounPhrase(g1))} can be seen ${loc}.`);
    } else {
      out.push(`There ${be(g1)} ${nounPhrase(g1, { size: true })} ${bg.on}.`);
      out.push(`${cap(nounPhrase(g1, { size: true }))} ${bg.on}.`);
    }
    return dedupe(out);
  }
  const rel = relation(g1, g2);
  const l1 = groupPhrase(g1);
  const l2 = groupPhrase(g2);
  out.push(`${cap(nounPhrase(g1))} and ${nounPhrase(g2)} ${bg.on}.`);
  out.push(`There ${be(g1)} ${nounPhrase(g1)} and ${nounPhrase(g2)} ${bg.on}.`);
  out.push(`A picture of ${nounPhrase(g1, { size: true })} and ${nounPhrase(g2, { size: true })}.`);
  out.push(`${cap(bg.noun)} with ${nounPhrase(g1)} and ${nounPhrase(g2)}.`);
  out.push(`${cap(nounPhrase(g2))} and ${nounPhrase(g1)} ${bg.on}.`);
  if (l1 && l2) out.push(`${cap(nounPhrase(g1))} ${l1} and ${nounPhrase(g2)} ${l2}.`);
  if (rel) {
    out.push(`${cap(nounPhrase(g1))} ${rel} ${nounPhrase(g2)}.`);
    out.push(`${cap(nounPhrase(g2))} ${INVERSE[rel]} ${nounPhrase(g1)} ${bg.on}.`);
  }
  return dedupe(out);
}

/** Every summary caption (a few words). */
function summaryCandidates(s: Scene): string[] {
  const bg = BACKGROUNDS[s.background];
  const [g1, g2] = s.groups as [Group, Group | undefined];
  const bare = (g: Group): string => (g.objects.length === 1 ? `${g.color} ${g.kind}` : `${NUMBER_WORDS[g.objects.length]} ${g.color} ${plural(g.kind)}`);
  if (!g2) {
    return dedupe([
      `${cap(nounPhrase(g1))}.`,
      `${cap(nounPhrase(g1))} ${bg.on}.`,
      `${cap(nounPhrase(g1, { size: true }))}.`,
      `Just ${nounPhrase(g1)}.`,
      `${cap(nounPhrase(g1, { size: true }))} ${bg.on}.`,
      `${cap(bare(g1))}.`,
    ]);
  }
  return dedupe([
    `${cap(nounPhrase(g1))} and ${nounPhrase(g2)}.`,
    `${cap(nounPhrase(g2))} and ${nounPhrase(g1)}.`,
    `${cap(nounPhrase(g1))} with ${nounPhrase(g2)}.`,
    `${cap(bare(g1))}, ${bare(g2)}.`,
    `${cap(nounPhrase(g1, { size: true }))} and ${nounPhrase(g2, { size: true })}.`,
    `${cap(nounPhrase(g1))} and ${nounPhrase(g2)} ${bg.on}.`,
  ]);
}

/** Every expanded caption: objects with sizes and places, background, relation, count. */
function expandedCandidates(s: Scene): string[] {
  const bg = BACKGROUNDS[s.background];
  const n = objectCount(s);
  // a place listing members ("one at the top and one ...") is set off by commas
  const described = s.groups.map((g) => (groupPhrase(g) === null ? `${nounPhrase(g, { size: true })}, ${placeOf(g)},` : `${nounPhrase(g, { size: true })} ${placeOf(g)}`));
  const objects = described.join(' and ').replace(/,$/, '');
  const openers = [`The image shows ${objects}.`, `In this picture there ${be(s.groups[0] as Group)} ${objects}.`, `This scene contains ${objects}.`];
  const backgrounds = [`The background is ${bg.noun}.`, `The scene is set ${bg.on}.`];
  const [g1, g2] = s.groups as [Group, Group | undefined];
  const rel = g2 ? relation(g1, g2) : null;
  const relSentence = rel && g2 ? `${cap(nounPhrase(g1, { definite: true }))} is ${rel} ${nounPhrase(g2, { definite: true })}.` : null;
  const count = `There ${n === 1 ? 'is one object' : `are ${NUMBER_WORDS[n]} objects`} in total.`;
  const out: string[] = [];
  for (const opener of openers) {
    for (const back of backgrounds) {
      out.push([opener, back, ...(relSentence ? [relSentence] : [])].join(' '));
      out.push([opener, ...(relSentence ? [relSentence] : []), back, count].join(' '));
    }
  }
  return dedupe(out);
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

export function candidates(s: Scene, style: AnswerStyle): string[] {
  return style === 'standard' ? standardCandidates(s) : style === 'summary' ? summaryCandidates(s) : expandedCandidates(s);
}

/** CAPTIONS_PER_SCENE distinct captions of the style, chosen with the scene's stream (fewer only if the templates give fewer). */
export function referenceCaptions(s: Scene, style: AnswerStyle, rng: Rng): string[] {
  const all = candidates(s, style);
  const k = Math.min(CAPTIONS_PER_SCENE, all.length);
  return rng.shuffle(rng.sample(all.length, k)).map((i) => all[i] as string);
}
