// The settings that decide what a generated output is. A re-run into the same
// --out must have the same ones (else its outputs would mix two models or
// decoding rules); they are kept in the journal and the manifest and compared
// key by key. Batch size, concurrency, device and timeouts are not among them.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import type { Hash } from 'node:crypto';
import { sha256Hasher } from '../util/hash.js';
import { join } from 'node:path';

export interface GenerationSettings {
  backend: 'local' | 'endpoint';
  /** The model folder (local), or the folder the tokenizer came from (endpoint), or null. */
  model: string | null;
  model_fingerprint: string | null;
  adapter: string | null;
  adapter_fingerprint: string | null;
  endpoint: string | null;
  endpoint_api: 'completions' | 'chat' | null;
  endpoint_model: string | null;
  /** The template the prompts were rendered with (auto resolved). */
  template: string;
  system: string | null;
  max_new_tokens: number;
  do_sample: boolean;
  /** Sampling settings; null when greedy. */
  temperature: number | null;
  top_p: number | null;
  top_k: number | null;
  seed: number | null;
  stop: string[];
  /** Weights dtype in process; null for an endpoint. */
  dtype: string | null;
}

const SAMPLE_BYTES = 64 * 1024;

/** sha256 of a file's size and 64 KiB read at its start, quarters and end (weights change everywhere when retrained). */
function sampledFileHash(h: Hash, path: string): void {
  const size = statSync(path).size;
  h.update(`${size}\u0000`);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(SAMPLE_BYTES);
    for (const at of [0, size / 4, size / 2, (3 * size) / 4, size - SAMPLE_BYTES]) {
      const pos = Math.max(0, Math.min(Math.floor(at), Math.max(0, size - SAMPLE_BYTES)));
      const n = readSync(fd, buf, 0, SAMPLE_BYTES, pos);
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A fingerprint of a model or adapter folder: its JSON configs whole and its
 * weight files sampled (size and five 64 KiB windows each) — an approximation
 * that notices retrained or replaced weights without reading gigabytes.
 */
export function folderFingerprint(dir: string): string {
  const h = sha256Hasher();
  const names = readdirSync(dir).sort();
  for (const name of names) {
    const p = join(dir, name);
    if (!existsSync(p) || !statSync(p).isFile()) continue;
    if (name === 'config.json' || name === 'adapter_config.json' || name.endsWith('.safetensors.index.json')) {
      h.update(`${name}\u0000`).update(readFileSync(p));
    } else if (name.endsWith('.safetensors')) {
      h.update(`${name}\u0000`);
      sampledFileHash(h, p);
    }
  }
  return h.digest('hex');
}

function show(v: unknown): string {
  return v === null ? 'none' : JSON.stringify(v);
}

/** The settings that differ, as "key: was X, now Y" phrases. */
export function settingsDiff(before: GenerationSettings, now: GenerationSettings): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(now)]) as Set<keyof GenerationSettings>;
  const out: string[] = [];
  for (const k of keys) {
    if (JSON.stringify(before[k] ?? null) !== JSON.stringify(now[k] ?? null)) out.push(`${k}: was ${show(before[k] ?? null)}, now ${show(now[k] ?? null)}`);
  }
  return out;
}
