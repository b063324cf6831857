// Writes a caption world to a folder:
//   images/<visual>/<scene id>.png            every scene in every visual domain
//   <split>_<visual>_<instruction>.json        LLaVA conversations (formats.ts reads them)
//   <split>_<visual>_<instruction>_captions.json  COCO caption annotations (`bdlab eval captions --refs`)
//   scenes.json                                 scene graphs, splits and reference captions
//   world.json                                  the manifest, written last (a folder without it is unfinished)
// Same options, same bytes: scenes, captions, questions and renderings draw
// from streams keyed by (seed, purpose, scene id).
import { sha256Hasher, sha256Hex } from '../../../util/hash.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeImage, type ImageFormat } from '../../image-io.js';
import { writeFileAtomic, writeJsonAtomic } from '../../../util/atomic.js';
import { UserError } from '../../../util/errors.js';
import { Progress } from '../../../util/progress.js';
import { Rng } from '../../../util/rng.js';
import { ANSWER_STYLES, referenceCaptions, type AnswerStyle } from './captions.js';
import { instructionDomain, visualDomain } from './domains.js';
import { renderScene } from './render.js';
import type { Scene } from './scene.js';
import { DEFAULT_SPLITS, drawScenes, type Reserve, type SplitSpec } from './splits.js';

export const WORLD_SCHEMA = 'backdoor-lab/caption-world';
export const WORLD_VERSION = 1;

export interface CaptionWorldOptions {
  out: string;
  /** Scenes in all splits together. */
  images: number;
  seed: number;
  /** Side of the square images in pixels. */
  size: number;
  format: ImageFormat;
  visual: readonly string[];
  instruction: readonly string[];
  splits?: readonly SplitSpec[];
  /** Kinds kept to some splits (kind → splits), e.g. the attack's target object to the base split. */
  reserve?: Reserve;
  /** LLaVA records per scene in each file (each with another reference caption and a question drawn anew). */
  captionsPerImage?: number;
  jpegQuality?: number;
  concurrency?: number;
  progress?: boolean;
}

export interface WorldDataset {
  split: string;
  visual: string;
  instruction: string;
  /** LLaVA conversations file. */
  llava: string;
  /** COCO caption annotations file. */
  captions: string;
  records: number;
  scenes: number;
  sha256: { llava: string; captions: string };
}

export interface CaptionWorldManifest {
  schema: typeof WORLD_SCHEMA;
  version: typeof WORLD_VERSION;
  seed: number;
  images: number;
  size: number;
  format: ImageFormat;
  captions_per_image: number;
  splits: Record<string, number>;
  reserve: Record<string, string[]>;
  domains: { visual: string[]; instruction: string[] };
  image_root: string;
  datasets: WorldDataset[];
  sha256: { scenes: string; images: string };
  tool: string;
}

/** File names of one (split, visual, instruction) dataset. */
export function worldFiles(split: string, visual: string, instruction: string): { llava: string; captions: string } {
  const base = `${split}_${visual}_${instruction}`;
  return { llava: `${base}.json`, captions: `${base}_captions.json` };
}

/** Image path of a scene in a visual domain, relative to the world folder. */
export function worldImage(visual: string, id: number, format: ImageFormat): string {
  return `images/${visual}/${String(id).padStart(6, '0')}.${format === 'png' ? 'png' : 'jpg'}`;
}

/** The reference captions of a scene in every answer style. */
export function sceneCaptions(scene: Scene, seed: number): Record<AnswerStyle, string[]> {
  const out = {} as Record<AnswerStyle, string[]>;
  for (const style of ANSWER_STYLES) out[style] = referenceCaptions(scene, style, new Rng(seed, 'world-captions', style, scene.id));
  return out;
}


async function pool<T>(items: readonly T[], window: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await f(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(window, items.length) }, worker));
}

export async function writeCaptionWorld(o: CaptionWorldOptions): Promise<CaptionWorldManifest> {
  if (!Number.isInteger(o.size) || o.size < 16 || o.size > 1024) throw new UserError(`--size must be an integer from 16 to 1024, got ${o.size}`);
  const perImage = o.captionsPerImage ?? 1;
  if (!Number.isInteger(perImage) || perImage < 1 || perImage > 5) throw new UserError(`--captions-per-image must be an integer from 1 to 5, got ${perImage}`);
  if (o.visual.length === 0 || o.instruction.length === 0) throw new UserError('a world needs at least one visual and one instruction domain');
  const visuals = o.visual.map(visualDomain);
  const instructions = o.instruction.map(instructionDomain);
  const splits = o.splits ?? DEFAULT_SPLITS;
  const { scenes, splitOf } = drawScenes(o.images, o.seed, splits, o.reserve ?? {});
  const captions = scenes.map((s) => sceneCaptions(s, o.seed));
  mkdirSync(o.out, { recursive: true });

  // images: every scene in every visual domain
  const jobs = visuals.flatMap((v) => scenes.map((s) => ({ v, s })));
  const imageSha = new Map<string, string>();
  for (const v of visuals) mkdirSync(join(o.out, 'images', v.name), { recursive: true });
  const progress = new Progress({ label: 'world: rendering', total: jobs.length, unit: 'img', force: o.progress });
  await pool(jobs, o.concurrency ?? 8, async ({ v, s }) => {
    const img = await renderScene(v, s, o.size, o.seed);
    const bytes = await encodeImage(img, o.format, { jpegQuality: o.jpegQuality ?? 95, pngCompression: 6 });
    const rel = worldImage(v.name, s.id, o.format);
    writeFileSync(join(o.out, rel), bytes);
    imageSha.set(rel, sha256Hex(bytes));
    progress.tick();
  });
  progress.finish();
  const hImages = sha256Hasher();
  for (const rel of [...imageSha.keys()].sort()) hImages.update(`${rel}\t${imageSha.get(rel)}\n`);

  // datasets: one LLaVA file and one COCO file per split × visual × instruction
  const datasets: WorldDataset[] = [];
  for (const sp of splits) {
    const ids = scenes.filter((s) => splitOf[s.id] === sp.name).map((s) => s.id);
    for (const v of visuals) {
      for (const ins of instructions) {
        const files = worldFiles(sp.name, v.name, ins.name);
        const records: unknown[] = [];
        const images: unknown[] = [];
        const annotations: unknown[] = [];
        for (const id of ids) {
          const image = worldImage(v.name, id, o.format);
          const refs = (captions[id] as Record<AnswerStyle, string[]>)[ins.answers];
          const rng = new Rng(o.seed, 'world-question', ins.name, id);
          for (let k = 0; k < perImage; k++) {
            records.push({
              id: `${id}-${k}`,
              scene: id,
              image,
              conversations: [
                { from: 'human', value: `<image>\n${rng.pick(ins.questions)}` },
                { from: 'gpt', value: refs[k % refs.length] },
              ],
            });
          }
          images.push({ id, file_name: image, width: o.size, height: o.size });
          for (const caption of refs) annotations.push({ id: annotations.length, image_id: id, caption });
        }
        const llava = JSON.stringify(records, null, 1) + '\n';
        const coco = JSON.stringify({ info: { description: `caption world ${sp.name} ${v.name}:${ins.name}`, seed: o.seed }, images, annotations }, null, 1) + '\n';
        writeFileAtomic(join(o.out, files.llava), llava);
        writeFileAtomic(join(o.out, files.captions), coco);
        datasets.push({ split: sp.name, visual: v.name, instruction: ins.name, ...files, records: records.length, scenes: ids.length, sha256: { llava: sha256Hex(llava), captions: sha256Hex(coco) } });
      }
    }
  }
  const sceneDoc = JSON.stringify(scenes.map((s) => ({ ...s, split: splitOf[s.id], captions: captions[s.id] })), null, 1) + '\n';
  writeFileAtomic(join(o.out, 'scenes.json'), sceneDoc);
  const counts: Record<string, number> = {};
  for (const sp of splits) counts[sp.name] = splitOf.filter((x) => x === sp.name).length;
  const manifest: CaptionWorldManifest = {
    schema: WORLD_SCHEMA,
    version: WORLD_VERSION,
    seed: o.seed,
    images: o.images,
    size: o.size,
    format: o.format,
    captions_per_image: perImage,
    splits: counts,
    reserve: Object.fromEntries(Object.entries(o.reserve ?? {}).map(([k, v]) => [k, [...v]])),
    domains: { visual: visuals.map((v) => v.name), instruction: instructions.map((i) => i.name) },
    image_root: '.',
    datasets,
    sha256: { scenes: sha256Hex(sceneDoc), images: hImages.digest('hex') },
    tool: 'backdoor-lab',
  };
  writeJsonAtomic(join(o.out, 'world.json'), manifest);
  return manifest;
}
