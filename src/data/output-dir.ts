import { copyFileSync, constants as fsc, existsSync, linkSync, lstatSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, rmdirSync, symlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { fsReason, makeDirs } from './dirs.js';
import { writeAll, writeAtomicWith } from '../util/atomic.js';
import { StreamingFile, TMP_PATTERN, tmpName } from './writer.js';
import { stringifyJson } from './json-text.js';

/**
 * An output folder of `bdlab poison` / `bdlab shift`, written so that a run
 * can never damage its input and a reader can tell a finished folder from an
 * interrupted one:
 *
 * - aliasing: the folder may not be, or contain, the input file, its image
 *   folder or any image the input refers to (real paths, links resolved);
 *   everything is written under the folder's real path through folders this
 *   run checked are not links;
 * - no writing through links: every file is written to a temporary sibling
 *   (`.NAME.PID.N.tmp`, opened exclusively) and renamed over its name, so an
 *   existing link or hard link there is replaced, never followed;
 * - reuse: a non-empty folder needs `force`; then the files a previous run
 *   wrote (listed by its manifest, or by the journal of an interrupted run) and
 *   stray `.tmp` files are removed first — nothing else;
 * - completion: `.bdlab-run.json` (the journal: what this run may create) is
 *   written first and `manifest.json` last; the journal is removed after the
 *   manifest. A folder is complete when it has a manifest and no journal
 *   (`assertComplete`). A failed run removes what it wrote.
 */
const JOURNAL = '.bdlab-run.json';
const MANIFEST = 'manifest.json';
const TOOL = 'backdoor-lab';

export interface OutputDirOptions {
  /** The folder as the user gave it. */
  path: string;
  force: boolean;
  /** The input dataset file. */
  input: string;
  /** The folder the input's image paths are relative to. */
  imageRoot?: string;
  /** Real paths of the image files the input refers to. */
  images?: Iterable<string>;
  /** The flag named in messages (default --out). */
  flag?: string;
}

/** The real path of p, following links on the part of it that exists. */
function realPathOf(p: string): string {
  const abs = resolve(p);
  const rest: string[] = [];
  let cur = abs;
  while (true) {
    try {
      return join(realpathSync(cur), ...rest.reverse());
    } catch {
      const up = dirname(cur);
      if (up === cur) return abs;
      rest.push(basename(cur));
      cur = up;
    }
  }
}

/** True when `inner` is `outer` or lies inside it (both real paths). */
export function within(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === '' || (!r.startsWith('..' + sep) && r !== '..' && !isAbsolute(r));
}

interface Journal {
  tool: string;
  pid: number;
  entries: string[];
}

export class OutputDir {
  /** The folder's real path; every file of the run is under it. */
  readonly root: string;
  readonly given: string;
  private readonly createdRoot: boolean;
  private readonly entries = new Set<string>();
  private readonly checkedDirs = new Set<string>();
  /** folders of fresh() files, by their path relative to the root, checked and created */
  private readonly freshDirs = new Map<string, string>();
  private done = false;

  private constructor(given: string, root: string, createdRoot: boolean) {
    this.given = given;
    this.root = root;
    this.createdRoot = createdRoot;
  }

  /** Checks the folder against the inputs, clears a previous run's files (with force) and starts the journal. */
  static open(o: OutputDirOptions): OutputDir {
    const flag = o.flag ?? '--out';
    const root = realPathOf(o.path);
    const input = realPathOf(o.input);
    const what = `${flag} ${o.path}`;
    if (within(input, root)) throw new UserError(`${what} ${root === dirname(input) ? 'is the folder of' : 'contains'} the input ${o.input}: write the output somewhere else`);
    if (o.imageRoot !== undefined) {
      const imageRoot = realPathOf(o.imageRoot);
      if (within(imageRoot, root)) throw new UserError(`${what} is or contains the input's image folder ${o.imageRoot}: write the output somewhere else`);
      if (within(root, imageRoot)) {
        for (const img of o.images ?? []) {
          if (within(img, root)) throw new UserError(`${what} holds ${img}, an image the input refers to: write the output somewhere else`);
        }
      }
    }
    let createdRoot = false;
    if (existsSync(root)) {
      if (!lstatSync(root).isDirectory()) throw new UserError(`${what}: exists and is not a folder`);
      const names = readdirSync(root);
      if (names.length > 0 && !o.force) throw new UserError(`${what}: folder is not empty (use --force to replace a previous run's files)`);
      if (names.length > 0) clearPreviousRun(root);
    } else {
      try {
        makeDirs(root);
      } catch (e) {
        throw new UserError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
      createdRoot = true;
    }
    const d = new OutputDir(o.path, root, createdRoot);
    try {
      d.writeJournal();
    } catch (e) {
      throw new UserError(`${what}: cannot write there: ${fsReason((e as NodeJS.ErrnoException).code, e)}`);
    }
    return d;
  }

  /** Absolute path of a file of the run, by its path relative to the folder. */
  path(rel: string): string {
    const abs = resolve(this.root, rel);
    if (!within(abs, this.root) || abs === this.root) throw new Error(`output path ${rel} leaves the output folder`);
    return abs;
  }

  /** Records a top-level entry this run creates (journal), before it is created. */
  private claim(rel: string): void {
    const top = relative(this.root, this.path(rel)).split(sep)[0] as string;
    if (this.entries.has(top)) return;
    this.entries.add(top);
    this.writeJournal();
  }

  private writeJournal(): void {
    const j: Journal = { tool: TOOL, pid: process.pid, entries: [...this.entries].sort() };
    writeAtomic(join(this.root, JOURNAL), JSON.stringify(j) + '\n', true);
  }

  /** Creates (if needed) the folder `rel` and every folder between it and the root, refusing links. */
  dir(rel: string): string {
    const abs = rel === '' || rel === '.' ? this.root : this.path(rel);
    if (this.checkedDirs.has(abs)) return abs;
    if (abs !== this.root) this.claim(rel);
    const parts = relative(this.root, abs).split(sep).filter((x) => x !== '');
    let cur = this.root;
    for (const part of parts) {
      cur = join(cur, part);
      if (this.checkedDirs.has(cur)) continue;
      let st = lstatSync(cur, { throwIfNoEntry: false });
      if (!st) {
        makeDirs(cur);
        st = lstatSync(cur);
      }
      if (st.isSymbolicLink()) throw new UserError(`${cur}: is a link; refusing to write through it`);
      if (!st.isDirectory()) throw new UserError(`${cur}: exists and is not a folder`);
      this.checkedDirs.add(cur);
    }
    this.checkedDirs.add(abs);
    return abs;
  }

  /** Writes a whole file: temporary sibling, then rename. */
  writeFile(rel: string, data: string | Uint8Array, sync = false): void {
    writeAtomic(this.target(rel).path, data, sync);
  }

  /** The checked absolute path of a file to write and its temporary sibling, for a writer on another thread. */
  target(rel: string): { path: string; tmp: string } {
    const abs = this.path(rel);
    this.dir(relative(this.root, dirname(abs)));
    if (dirname(abs) === this.root) this.claim(rel);
    return { path: abs, tmp: tmpName(abs) };
  }

  /**
   * The checked absolute path of a new file in a folder below the root, for a
   * writer on another thread that creates it in place, exclusively and without
   * following links (`tmp: null`). For the many files of one run (changed
   * images): no temporary name and no rename, which halves the directory
   * operations. Safe because such folders hold only this run's files — a
   * reused folder's previous files were removed — and an interrupted run is
   * recognised by its journal and cleaned up whole, so a partial file is never
   * taken for a finished one.
   */
  fresh(rel: string): { path: string; tmp: null } {
    // the many files of one folder: its checks are done once (a plain name cannot leave it)
    const slash = rel.lastIndexOf('/');
    const name = rel.slice(slash + 1);
    const folder = this.freshDirs.get(rel.slice(0, Math.max(0, slash)));
    if (folder !== undefined && name !== '' && name !== '.' && name !== '..' && !name.includes(sep)) return { path: join(folder, name), tmp: null };
    const abs = this.path(rel);
    if (dirname(abs) === this.root) throw new Error(`fresh(${rel}): only for files below a folder of the run`);
    this.dir(relative(this.root, dirname(abs)));
    if (slash > 0) this.freshDirs.set(rel.slice(0, slash), dirname(abs));
    return { path: abs, tmp: null };
  }

  /** A file written as a stream (sha256 on the way), renamed into place on close(). */
  stream(rel: string): StreamingFile {
    const abs = this.path(rel);
    this.dir(relative(this.root, dirname(abs)));
    if (dirname(abs) === this.root) this.claim(rel);
    return new StreamingFile(abs);
  }

  /** Puts an existing file at `rel`: hard link (copy across devices), copy or symbolic link; through a temporary name. */
  place(src: string, rel: string, mode: 'hardlink' | 'copy' | 'symlink'): void {
    const abs = this.path(rel);
    this.dir(relative(this.root, dirname(abs)));
    const tmp = tmpName(abs);
    try {
      if (mode === 'symlink') symlinkSync(src, tmp);
      else if (mode === 'copy') copyFileSync(src, tmp, fsc.COPYFILE_EXCL);
      else {
        try {
          linkSync(src, tmp);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP') copyFileSync(src, tmp, fsc.COPYFILE_EXCL);
          else throw e;
        }
      }
      renameSync(tmp, abs);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** Writes the manifest — the completion marker — and removes the journal. */
  commit(manifest: unknown): void {
    writeAtomic(join(this.root, MANIFEST), stringifyJson(manifest, 2) + '\n', true);
    rmSync(join(this.root, JOURNAL), { force: true });
    this.done = true;
  }

  /** After a failure: removes what this run wrote (and the folder, if the run created it and it is empty). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    for (const e of this.entries) rmSync(join(this.root, e), { recursive: true, force: true });
    removeTmpFiles(this.root);
    rmSync(join(this.root, JOURNAL), { force: true });
    if (this.createdRoot) {
      try {
        rmdirSync(this.root);
      } catch {
        // not empty: someone else's files
      }
    }
  }
}

/** Writes a file through an exclusive temporary sibling (named for removeTmpFiles) and a rename. */
function writeAtomic(abs: string, data: string | Uint8Array, sync: boolean): void {
  writeAtomicWith(abs, (fd) => writeAll(fd, data), { tmp: tmpName(abs), sync, exclusive: true });
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

/** A relative name written by a previous run, reduced to its top-level entry; null if it is not a plain relative path. */
function topEntry(rel: unknown): string | null {
  if (typeof rel !== 'string' || rel === '' || isAbsolute(rel) || rel.includes('\0')) return null;
  const first = rel.split(/[\\/]+/)[0] as string;
  return first === '' || first === '.' || first === '..' ? null : first;
}

/** Removes the files of the previous run (from its manifest or journal) and stray temporary files. */
function clearPreviousRun(root: string): void {
  const names = new Set<string>();
  const j = readJson(join(root, JOURNAL)) as Partial<Journal> | null;
  if (j && typeof j === 'object' && j.tool === TOOL && Array.isArray(j.entries)) for (const e of j.entries) names.add(topEntry(e) ?? '');
  const m = readJson(join(root, MANIFEST)) as { tool?: unknown; files?: unknown; image_root?: unknown } | null;
  if (m && typeof m === 'object' && typeof m.tool === 'string' && m.tool.startsWith(TOOL)) {
    if (m.files && typeof m.files === 'object') for (const f of Object.values(m.files as Record<string, unknown>)) names.add(topEntry(f) ?? '');
    names.add(topEntry(m.image_root) ?? '');
    names.add(MANIFEST);
  }
  names.delete('');
  for (const n of names) rmSync(join(root, n), { recursive: true, force: true });
  removeTmpFiles(root);
  rmSync(join(root, JOURNAL), { force: true });
}

/** Removes `.NAME.PID.N.tmp` files at the top level and one folder down. */
function removeTmpFiles(root: string): void {
  const walk = (dir: string, depth: number): void => {
    let list;
    try {
      list = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      if (e.isFile() || e.isSymbolicLink()) {
        if (TMP_PATTERN.test(e.name)) rmSync(join(dir, e.name), { force: true });
      } else if (e.isDirectory() && depth > 0) walk(join(dir, e.name), depth - 1);
    }
  };
  walk(root, 1);
}

/**
 * Refuses a dataset file in a folder that an unfinished bdlab run wrote (a
 * journal is there); readers of poisoned or shifted folders call this.
 */
export function assertComplete(file: string): void {
  const dir = dirname(resolve(file));
  if (existsSync(join(dir, JOURNAL))) {
    throw new UserError(`${file}: the bdlab run that wrote ${dir} did not finish (${JOURNAL} is there, ${MANIFEST} is missing or stale); run it again with --force`);
  }
}
