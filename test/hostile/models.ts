// Tiny model folders for the hostile tests: generated once per test file with
// the project's own `newModelFolder`, then copied and edited per case.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newModelFolder } from '../../src/models/presets.js';
import { tempDir } from './harness.js';

export type Json = Record<string, unknown>;

export interface Folders {
  root: string;
  llama: string;
  llava: string;
}

let made: Folders | null = null;

/** A tiny llama and a tiny llava folder (made on first use). */
export function baseFolders(): Folders {
  if (made) return made;
  const root = tempDir('models');
  const llama = join(root, 'llama');
  const llava = join(root, 'llava');
  newModelFolder(llama, { arch: 'llama', preset: 'tiny', seed: 1 });
  newModelFolder(llava, { arch: 'llava', preset: 'tiny', seed: 2 });
  made = { root, llama, llava };
  return made;
}

let counter = 0;

/** A copy of `from` named after `tag`, with config.json (or another JSON file) edited. */
export function variant(from: string, tag: string, edit?: (j: Json) => void, file = 'config.json'): string {
  const dir = join(baseFolders().root, `${tag}-${++counter}`);
  cpSync(from, dir, { recursive: true });
  if (edit) {
    const p = join(dir, file);
    const j = JSON.parse(readFileSync(p, 'utf8')) as Json;
    edit(j);
    writeFileSync(p, JSON.stringify(j));
  }
  return dir;
}

export function readJsonFile(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}
