import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative, sep } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { sha256File, sha256Hex } from '../util/hash.js';
import { toolVersion } from '../eval/results.js';
import type { Json } from './stages/types.js';

/**
 * The artifact cache of `bdlab run`:
 *
 *   DIR/artifacts/<kind>/<key>/            one finished stage: its files, and
 *   DIR/artifacts/<kind>/<key>/artifact.json   the completion marker
 *   DIR/artifacts/<kind>/.tmp-<key>-<pid>/ a stage in progress
 *
 * key = sha256(canonical JSON of {kind, stage version, tool version, params,
 * content hashes of the inputs}), first 20 hex digits. A stage writes into a
 * temporary folder; the runner hashes its files, writes the marker last and
 * renames the folder into place, so a folder under its key is always complete
 * and a killed stage leaves only a `.tmp-` folder, removed by the next run.
 */
export const MARKER = 'artifact.json';
const ARTIFACT_SCHEMA = 'backdoor-lab/artifact';
const KEY_LENGTH = 20;

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`canonicalJson: non-finite number ${v}`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode ${typeof v}`);
}

/** Every regular file under a folder, relative, '/'-separated, sorted. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Content hashes of files, remembered by (device, inode, size, mtime) in a
 * small JSON file, so a large model folder or image set is read once, and a
 * hard-linked copy (the poisoner links untouched images) is not read again.
 */
export class HashMemo {
  private memo: Record<string, string> = {};
  private dirty = false;

  constructor(private readonly memoFile: string | null) {
    const file = memoFile;
    if (file && existsSync(file)) {
      try {
        const j = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        if (j && typeof j === 'object' && !Array.isArray(j)) this.memo = j as Record<string, string>;
      } catch {
        // a damaged memo is only a lost speed-up
      }
    }
  }

  file(path: string): string {
    const fd = openSync(path, 'r');
    let id: string;
    try {
      const st = fstatSync(fd, { bigint: true });
      id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
    } finally {
      closeSync(fd);
    }
    const known = this.memo[id];
    if (known) return known;
    const h = sha256File(path);
    this.memo[id] = h;
    this.dirty = true;
    return h;
  }

  /** A file's hash, or for a folder the hash of its sorted (path, file hash) list. */
  path(p: string, skip: (rel: string) => boolean = () => false): string {
    const st = statSync(p);
    if (st.isFile()) return this.file(p);
    if (!st.isDirectory()) throw new UserError(`${p}: not a regular file or folder`);
    return folderHash(this.files(p, skip), null);
  }

  files(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
    const out: Record<string, string> = {};
    for (const rel of listFiles(dir)) if (!skip(rel)) out[rel] = this.file(join(dir, rel));
    return out;
  }

  save(): void {
    if (this.memoFile && this.dirty) {
      writeJsonAtomic(this.memoFile, this.memo);
      this.dirty = false;
    }
  }
}

/** Hash of a folder from its files' hashes (and an artifact's output summary). */
export function folderHash(files: Readonly<Record<string, string>>, output: Json | null): string {
  const lines = Object.keys(files)
    .sort()
    .map((k) => `${k}\t${files[k]}\n`);
  if (output !== null) lines.push(`output\t${canonicalJson(output)}\n`);
  return sha256Hex(lines.join(''));
}

export interface Marker {
  schema: typeof ARTIFACT_SCHEMA;
  kind: string;
  key: string;
  stage_version: number;
  tool: { name: string; version: string };
  params: unknown;
  inputs: Record<string, string>;
  output: Json;
  files: Record<string, string>;
  sha256: string;
  started: string;
  finished: string;
  seconds: number;
}

export interface KeyParts {
  kind: string;
  version: number;
  params: unknown;
  inputs: Readonly<Record<string, string>>;
}

export function artifactKey(p: KeyParts): string {
  return sha256Hex(canonicalJson({ kind: p.kind, stage_version: p.version, tool: toolVersion(), params: p.params, inputs: p.inputs })).slice(0, KEY_LENGTH);
}

function readMarker(path: string): Marker | null {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Marker;
    return m && m.schema === ARTIFACT_SCHEMA && typeof m.sha256 === 'string' ? m : null;
  } catch {
    return null;
  }
}

export class ArtifactStore {
  readonly memo: HashMemo;

  /** `readOnly`: looks only (a dry run creates no folder). */
  constructor(
    readonly root: string,
    readOnly = false,
  ) {
    if (!readOnly) mkdirSync(root, { recursive: true });
    this.memo = new HashMemo(readOnly && !existsSync(root) ? null : join(root, '.hashes.json'));
  }

  dirOf(kind: string, key: string): string {
    return join(this.root, kind, key);
  }

  /** The finished artifact under this key, or null. */
  lookup(kind: string, key: string): Marker | null {
    const m = join(this.dirOf(kind, key), MARKER);
    return existsSync(m) ? readMarker(m) : null;
  }

  /** Removes the temporary folders of stages that were interrupted; returns how many. */
  cleanTemporary(): number {
    let n = 0;
    if (!existsSync(this.root)) return 0;
    for (const kind of readdirSync(this.root, { withFileTypes: true })) {
      if (!kind.isDirectory()) continue;
      for (const e of readdirSync(join(this.root, kind.name), { withFileTypes: true })) {
        if (e.isDirectory() && e.name.startsWith('.tmp-')) {
          rmSync(join(this.root, kind.name, e.name), { recursive: true, force: true });
          n++;
        }
      }
    }
    return n;
  }

  /**
   * Runs `produce` into a fresh temporary folder (`onStart` is told once the
   * folder exists), then hashes what it wrote, writes the marker last and
   * renames the folder to its key.
   */
  async produce(p: KeyParts & { key: string }, produce: (dir: string) => Promise<Json>, onStart?: (dir: string) => void): Promise<Marker> {
    const kindDir = join(this.root, p.kind);
    mkdirSync(kindDir, { recursive: true });
    const tmp = join(kindDir, `.tmp-${p.key}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    onStart?.(tmp);
    const t0 = Date.now();
    const started = new Date(t0).toISOString();
    try {
      const output = await produce(tmp);
      const files = this.memo.files(tmp, (rel) => rel === MARKER);
      const now = Date.now();
      const marker: Marker = {
        schema: ARTIFACT_SCHEMA,
        kind: p.kind,
        key: p.key,
        stage_version: p.version,
        tool: { name: 'backdoor-lab', version: toolVersion() },
        params: p.params,
        inputs: { ...p.inputs },
        output,
        files,
        sha256: folderHash(files, output),
        started,
        finished: new Date(now).toISOString(),
        seconds: (now - t0) / 1000,
      };
      writeJsonAtomic(join(tmp, MARKER), marker);
      const final = this.dirOf(p.kind, p.key);
      // a folder without a marker (copied by hand, damaged) is not an artifact
      if (existsSync(final)) rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
      this.memo.save();
      return marker;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
}

/**
 * One `bdlab run` per output folder at a time: DIR/.lock holds the pid; a lock
 * whose process is gone (killed) is taken over.
 */
export class RunLock {
  private constructor(private readonly path: string) {}

  static acquire(dir: string): RunLock {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, '.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
        writeFileSync(fd, JSON.stringify({ pid: process.pid, host: hostname() }));
        closeSync(fd);
        return new RunLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = lockHolder(path);
        if (holder !== null && holder.host === hostname() && processAlive(holder.pid)) {
          throw new UserError(`${dir}: another bdlab run (pid ${holder.pid}) is using this folder`);
        }
        if (holder !== null && holder.host !== hostname()) {
          throw new UserError(`${dir}: locked by a bdlab run on ${holder.host} (pid ${holder.pid}); remove ${path} if that run is gone`);
        }
        rmSync(path, { force: true });
      }
    }
    throw new UserError(`${dir}: could not take the run lock ${path}`);
  }

  release(): void {
    rmSync(this.path, { force: true });
  }
}

function lockHolder(path: string): { pid: number; host: string } | null {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; host?: unknown };
    return typeof j.pid === 'number' && typeof j.host === 'string' ? { pid: j.pid, host: j.host } : null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
