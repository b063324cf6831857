// The non-weight files of a model folder that travel with it when a model is
// re-saved (merged, fine-tuned): tokenizer, chat template, processor settings;
// and the check that a path given as a model is a folder at all.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UserError } from '../util/errors.js';
import { fsError } from '../util/safe-fs.js';

export const SIDE_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'generation_config.json',
  'preprocessor_config.json',
  'processor_config.json',
];

/** Copies the side files that exist from one model folder to another; returns their names. */
export function copyTokenizerFiles(from: string, to: string): string[] {
  mkdirSync(to, { recursive: true });
  const copied: string[] = [];
  for (const f of SIDE_FILES) {
    if (existsSync(join(from, f))) {
      copyFileSync(join(from, f), join(to, f));
      copied.push(f);
    }
  }
  return copied;
}

/** `owner/name` as the Hugging Face Hub spells a repository. */
const HUB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Refuses a model path that is not a folder. A missing path spelled like a
 * Hub repository (`meta-llama/Llama-2-7b-chat-hf`, relative to the working
 * folder) is named as one: this tool never downloads.
 */
export function checkModelFolder(dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw new UserError(`${dir}: not a folder (a model is a Hugging Face model folder)`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const rel = relative(process.cwd(), dir);
    if ((code === 'ENOENT' || code === 'ENOTDIR') && HUB_NAME.test(rel)) {
      throw new UserError(`${rel}: this looks like a Hugging Face Hub name; nothing is downloaded here: download it and give the folder (e.g. huggingface-cli download ${rel} --local-dir ./${rel.split('/')[1]})`);
    }
    if (code === 'ENOENT') throw new UserError(`${dir}: no such model folder`);
    throw fsError(dir, e);
  }
}

/** The files of a model folder a new model would replace (weights, config, side files), as present in `dir`. */
function modelFilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const shard = /^model-\d+-of-\d+\.safetensors$/;
  const fixed = new Set(['config.json', 'model.safetensors', 'model.safetensors.index.json', ...SIDE_FILES]);
  return readdirSync(dir).filter((f) => fixed.has(f) || shard.test(f));
}

/**
 * Makes `dir` ready to receive a model: refuses a folder that already holds
 * one unless `force`, and then removes the old model's files (a stale shard
 * index would otherwise win over the new single file). Other files stay.
 */
export function prepareModelOutput(dir: string, force: boolean): void {
  const old = modelFilesIn(dir);
  if (old.length === 0) return;
  if (!force) throw new UserError(`${dir} already holds a model (${old.slice(0, 3).join(', ')}${old.length > 3 ? ', ...' : ''}); give --force to replace it`);
  for (const f of old) rmSync(join(dir, f), { force: true });
}
