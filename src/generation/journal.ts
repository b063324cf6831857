// The journal of an unfinished `bdlab generate`: a JSONL file beside --out
// (`<out>.partial.jsonl`). Line 1 holds the settings; every later line one
// finished record `{"key", "record"}`. It is created whole (temporary file,
// renamed), and each batch is appended with one write followed by fsync, so a
// kill at any moment leaves every earlier batch intact and at most one torn
// last line, which the next reader cuts off.
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import type { GeneratedRecord } from './batch.js';
import type { GenerationSettings } from './settings.js';

const MAGIC = 'bdlab_generate_journal';

export interface JournalEntry {
  key: string;
  record: GeneratedRecord;
}

export function journalPath(out: string): string {
  return `${out}.partial.jsonl`;
}

/** Reads a journal, cutting off a torn last line; null when there is none. */
export function readJournal(path: string): { settings: GenerationSettings; entries: JournalEntry[] } | null {
  if (!existsSync(path)) return null;
  const buf = readFileSync(path);
  const end = buf.lastIndexOf(0x0a) + 1;
  if (end < buf.length) {
    // the tail of a write cut short by a kill: drop it
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, end);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const lines = buf.subarray(0, end).toString('utf8').split('\n');
  const bad = (n: number, why: string): UserError => new UserError(`${path}: line ${n}: ${why}; delete the file or use --force to start over`);
  let header: { [MAGIC]?: unknown; settings?: GenerationSettings };
  try {
    header = JSON.parse(lines[0] ?? '') as typeof header;
  } catch {
    throw bad(1, 'not a bdlab generate journal');
  }
  if (header?.[MAGIC] !== 1 || typeof header.settings !== 'object' || header.settings === null) throw bad(1, 'not a bdlab generate journal');
  const entries: JournalEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l === '') continue;
    let e: JournalEntry;
    try {
      e = JSON.parse(l) as JournalEntry;
    } catch {
      throw bad(i + 1, 'not valid JSON');
    }
    if (typeof e?.key !== 'string' || typeof e.record?.output !== 'string') throw bad(i + 1, 'not a journal entry');
    entries.push(e);
  }
  return { settings: header.settings, entries };
}

const line = (v: unknown): string => JSON.stringify(v) + '\n';

export class Journal {
  private constructor(
    readonly path: string,
    private fd: number | null,
  ) {}

  /** Creates the journal (replacing any) with its settings and the entries already known, atomically. */
  static create(path: string, settings: GenerationSettings, entries: readonly JournalEntry[] = []): Journal {
    writeFileAtomic(path, line({ [MAGIC]: 1, settings }) + entries.map(line).join(''));
    return Journal.open(path);
  }

  /** Opens an existing journal for appending. */
  static open(path: string): Journal {
    return new Journal(path, openSync(path, 'a'));
  }

  /** Appends entries with one write, then fsync. */
  append(entries: readonly JournalEntry[]): void {
    if (this.fd === null) throw new Error('journal is closed');
    if (entries.length === 0) return;
    writeSync(this.fd, entries.map(line).join(''));
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Closes and deletes the journal (its records are in --out). */
  remove(): void {
    this.close();
    rmSync(this.path, { force: true });
  }
}
