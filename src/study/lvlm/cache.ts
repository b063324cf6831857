// Stage outputs of a study, kept under one folder and keyed by a hash of
// everything that determines them (settings and the keys of the stages they
// read). A stage is built in a temporary sibling folder and renamed into
// place with its `done.json` inside, so an interrupted run leaves no
// half-built stage behind and a re-run skips every finished one.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../experiment/cache.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { sha256Hex } from '../../util/hash.js';

/** A short hash of a stage's settings (16 hex digits of SHA-256 over the canonical JSON). */
export function stageKey(settings: unknown): string {
  return sha256Hex(canonicalJson(settings)).slice(0, 16);
}

export class StageCache {
  /** Stages built by this process (the rest were found finished). */
  built = 0;
  reused = 0;

  constructor(readonly root: string) {}

  dir(kind: string, key: string): string {
    return join(this.root, `${kind}-${key}`);
  }

  /** The stage's recorded value when it is finished, else null. */
  done<T>(kind: string, key: string): T | null {
    const p = join(this.dir(kind, key), 'done.json');
    if (!existsSync(p)) return null;
    try {
      return (JSON.parse(readFileSync(p, 'utf8')) as { value: T }).value;
    } catch {
      return null;
    }
  }

  /**
   * The stage's value: read back when finished, else built by `build(dir)`
   * in a fresh temporary folder that becomes the stage folder once `build`
   * returns (its value is recorded in done.json).
   */
  async run<T>(kind: string, key: string, settings: unknown, build: (dir: string) => Promise<T> | T): Promise<T> {
    const hit = this.done<T>(kind, key);
    if (hit !== null) {
      this.reused++;
      return hit;
    }
    const final = this.dir(kind, key);
    const tmp = `${final}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    let value: T;
    try {
      value = await build(tmp);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    writeJsonAtomic(join(tmp, 'done.json'), { kind, key, settings, value });
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    this.built++;
    return value;
  }
}
