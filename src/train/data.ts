// Training data for `bdlab train`: the `dataset` setting resolved as
// LLaMA-Factory does (names through dataset_dir/dataset_info.json, here also
// plain file paths), records read and checked (Alpaca/LLaMA-Factory JSON or
// JSONL, LLaVA conversations), `max_samples` taken from the start of each
// dataset, then encoded with the one prompt renderer and, for LLaVA, the
// images preprocessed once per run.
import { sha256Hasher } from '../util/hash.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readDataset } from '../data/dataset.js';
import { detectFormat, type FormatName } from '../data/formats.js';
import { ImageRoot, imageProblem } from '../data/paths.js';
import type { Device } from '../engine/index.js';
import type { InstructionSample } from '../models/prompt.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { UserError } from '../util/errors.js';
import { PixelCache, type PixelCacheOptions } from './images.js';
import type { ImageProcessorConfig } from '../models/image-processor.js';
import { collate, encodeExample, type EncodedExample } from './sft.js';
import type { TrainData } from './trainer.js';

export interface DatasetSource {
  /** The name as the config gave it. */
  name: string;
  /** Absolute path of the file. */
  path: string;
  /** Folder the records' image paths are relative to. */
  imageRoot: string;
}

const DATASET_INFO = 'dataset_info.json';

function readDatasetInfo(dir: string): Record<string, Record<string, unknown>> | null {
  const path = join(dir, DATASET_INFO);
  if (!existsSync(path)) return null;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected an object of named datasets');
    return v as Record<string, Record<string, unknown>>;
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
}

/** Column settings of a dataset_info entry that this reader understands as given. */
const DEFAULT_COLUMNS: Record<string, string> = { prompt: 'instruction', query: 'input', response: 'output', messages: 'conversations', images: 'image', system: 'system', history: 'history' };

function checkEntry(name: string, e: Record<string, unknown>, where: string): string {
  for (const k of ['hf_hub_url', 'ms_hub_url', 'om_hub_url', 'script_url', 'cloud_file_name']) {
    if (e[k] !== undefined) throw new UserError(`${where}: dataset '${name}' uses ${k}; only local files (file_name) are read, nothing is downloaded`);
  }
  if (typeof e.file_name !== 'string' || e.file_name === '') throw new UserError(`${where}: dataset '${name}' has no file_name`);
  if (e.ranking === true) throw new UserError(`${where}: dataset '${name}' is a ranking (preference) set; bdlab train does supervised fine-tuning only`);
  const cols = e.columns;
  if (cols !== undefined) {
    if (typeof cols !== 'object' || cols === null) throw new UserError(`${where}: dataset '${name}': columns must be an object`);
    for (const [k, v] of Object.entries(cols)) {
      if (v !== DEFAULT_COLUMNS[k] && !(k === 'images' && v === 'images')) {
        throw new UserError(`${where}: dataset '${name}': column mapping ${k} → ${JSON.stringify(v)} is not supported (records must use instruction/input/output or LLaVA conversations)`);
      }
    }
  }
  return e.file_name;
}

/** A bdlab poison output folder names its image folder in manifest.json. */
function manifestImageRoot(dir: string): string | null {
  const m = join(dir, 'manifest.json');
  if (!existsSync(m)) return null;
  try {
    const j = JSON.parse(readFileSync(m, 'utf8')) as Record<string, unknown>;
    return typeof j.image_root === 'string' ? join(dir, j.image_root) : null;
  } catch {
    return null;
  }
}

/**
 * Where each dataset of the config is: a name in dataset_dir/dataset_info.json
 * (LLaMA-Factory's registry), else a file path (relative to `cwd`). Image
 * paths are relative to media_dir if set, else to dataset_dir for named
 * datasets, else to the image folder a bdlab poison manifest beside the file
 * names, else to the file's folder.
 */
export function resolveDatasets(c: { dataset: string[]; dataset_dir: string; media_dir: string | null }, cwd = process.cwd()): DatasetSource[] {
  const dir = resolve(cwd, c.dataset_dir);
  const info = readDatasetInfo(dir);
  const media = c.media_dir === null ? null : resolve(cwd, c.media_dir);
  return c.dataset.map((name) => {
    const entry = info && Object.hasOwn(info, name) ? info[name] : undefined;
    if (entry) {
      const file = checkEntry(name, entry, join(dir, DATASET_INFO));
      const path = resolve(dir, file);
      if (!existsSync(path)) throw new UserError(`dataset '${name}': ${path} (from ${join(dir, DATASET_INFO)}) not found`);
      return { name, path, imageRoot: media ?? dir };
    }
    const path = resolve(cwd, name);
    if (existsSync(path) && statSync(path).isFile()) return { name, path, imageRoot: media ?? manifestImageRoot(dirname(path)) ?? dirname(path) };
    const hint = info ? `not a name in ${join(dir, DATASET_INFO)}` : `no ${join(dir, DATASET_INFO)} to look names up in (set dataset_dir)`;
    throw new UserError(`dataset '${name}': ${hint}, and not a file`);
  });
}

/** A training sample: an instruction sample whose image, if any, is an absolute path. */
export type TrainSample = InstructionSample & { image?: string };

export interface LoadedDataset {
  source: DatasetSource;
  format: FormatName;
  /** Records in the file. */
  records: number;
  samples: TrainSample[];
  sha256: string;
  /** Records with more than the first exchange (only the first is trained). */
  multiTurn: number;
}

/** Reads one dataset: every record checked, the first maxSamples kept (all are hashed). */
export function readTrainDataset(source: DatasetSource, maxSamples: number | null = null): LoadedDataset {
  const format = detectFormat(source.path);
  if (format === 'coco' || format === 'coco-results') {
    throw new UserError(`${source.path}: ${format} files have no instructions to train on; use Alpaca records or LLaVA conversations`);
  }
  const hash = sha256Hasher();
  const root = new ImageRoot(source.imageRoot);
  const samples: TrainSample[] = [];
  let records = 0;
  let multiTurn = 0;
  for (const item of readDataset(source.path, format, (chunk) => hash.update(chunk))) {
    records++;
    if (item.error) throw item.error;
    const s = item.sample;
    if (!s || (maxSamples !== null && samples.length >= maxSamples)) continue;
    let image = s.image;
    const listed = s.fields?.images;
    if (image === undefined && Array.isArray(listed) && listed.length > 0) {
      if (listed.length > 1 || typeof listed[0] !== 'string') throw new UserError(`${source.path}: record ${s.index}: field "images": one image per record is supported`);
      image = listed[0];
    }
    const turns = s.fields?.conversations;
    const history = s.fields?.history;
    if ((Array.isArray(turns) && turns.length > 2) || (Array.isArray(history) && history.length > 0)) multiTurn++;
    const out: TrainSample = { instruction: s.instruction, input: s.input, output: s.output };
    if (image !== undefined) {
      const bad = imageProblem(root, image, source.path, s.index, 'image', item.line);
      if (bad) throw bad;
      out.image = resolve(source.imageRoot, image);
    }
    samples.push(out);
  }
  if (samples.length === 0) throw new UserError(`${source.path}: no records to train on`);
  return { source, format, records, samples, sha256: hash.digest('hex'), multiTurn };
}

export interface ImageSetup {
  /** The model's image token id and how many tokens each image takes. */
  tokenId: number;
  count: number;
  processor: ImageProcessorConfig;
  cache?: PixelCacheOptions;
}

export interface BuildDataOptions {
  template: string;
  cutoffLen: number;
  trainOnPrompt: boolean;
  padId: number;
  /** LLaVA models; without it, samples with images are refused. */
  images?: ImageSetup;
  device?: Device;
}

export interface BuiltData extends TrainData {
  /** Distinct images preprocessed. */
  images: number;
  imageStorage: 'memory' | 'file' | null;
  dispose(): void;
}

/** Encodes samples (and preprocesses their images once) into batchable training data. */
export async function buildTrainData(tok: TextTokenizer, samples: readonly TrainSample[], o: BuildDataOptions): Promise<BuiltData> {
  const withImage = samples.filter((s) => s.image !== undefined).length;
  if (withImage > 0 && !o.images) throw new UserError(`${withImage} training samples have images, but the model is not a vision-language (LLaVA) model`);
  const imageIndex = new Map<string, number>();
  const sampleImage: Array<number | null> = samples.map((s) => {
    if (s.image === undefined) return null;
    let k = imageIndex.get(s.image);
    if (k === undefined) {
      k = imageIndex.size;
      imageIndex.set(s.image, k);
    }
    return k;
  });
  const encoded: EncodedExample[] = samples.map((s) =>
    encodeExample(tok, s, o.cutoffLen, { template: o.template, trainOnPrompt: o.trainOnPrompt, ...(o.images ? { image: { tokenId: o.images.tokenId, count: o.images.count } } : {}) }),
  );
  const cache = o.images && imageIndex.size > 0 ? await PixelCache.build([...imageIndex.keys()], o.images.processor, o.images.cache) : null;
  return {
    size: encoded.length,
    images: imageIndex.size,
    imageStorage: cache ? cache.storage : null,
    length: (i) => (encoded[i] as EncodedExample).ids.length,
    batch: (idx) => {
      const b = collate(
        idx.map((i) => encoded[i] as EncodedExample),
        o.padId,
        o.device,
      );
      const imgs = idx.map((i) => sampleImage[i]).filter((k): k is number => k !== null && k !== undefined);
      if (cache && imgs.length) b.pixelValues = cache.tensor(imgs, o.device);
      return b;
    },
    dispose: () => cache?.dispose(),
  };
}
