// Shared by the hostile-input tests of `bdlab poison` / `bdlab shift`: a bounded CLI runner
// and small datasets with real images.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { synthImage, writeImage } from '../attacks/helpers.js';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** true when the process was killed for running past its time limit */
  timedOut: boolean;
}

/** Runs `bdlab` as a process with a time limit (a hang fails the test instead of stalling it) and a heap cap. */
export function bdlab(args: string[], o: { timeoutMs?: number; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', 'bin/bdlab.js', ...args], {
    encoding: 'utf8',
    timeout: o.timeoutMs ?? 30_000,
    env: { ...process.env, BDLAB_PROGRESS: '0', ...o.env },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' };
}

/** Runs the CLI in this process (for refusals that need no process bounds), capturing its output. */
export async function inProcess(args: string[]): Promise<Run> {
  const { main } = await import('../../src/cli/main.js');
  let stderr = '';
  let stdout = '';
  const we = process.stderr.write.bind(process.stderr);
  const wo = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((c: string | Uint8Array): boolean => {
    stderr += String(c);
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array): boolean => {
    stdout += String(c);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { status: await main(args), stdout, stderr, timedOut: false };
  } finally {
    process.stderr.write = we;
    process.stdout.write = wo;
  }
}

export const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** sha256 of every file under a folder, by relative path. */
export function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = sha(p);
    }
  };
  walk(dir);
  return out;
}

export interface LlavaRecord {
  id: string;
  image: string;
  conversations: { from: string; value: string }[];
  harmful_output?: string;
}

/** A LLaVA dataset: data.json and PNG images at the given relative paths (created once each). */
export async function llavaSet(dir: string, images: string[], extra: (i: number) => Partial<LlavaRecord> = () => ({})): Promise<{ input: string; records: LlavaRecord[] }> {
  const made = new Set<string>();
  const records: LlavaRecord[] = [];
  for (let i = 0; i < images.length; i++) {
    const rel = images[i] as string;
    if (!made.has(rel)) {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      await writeImage(join(dir, rel), synthImage(32, 24, made.size + 1));
      made.add(rel);
    }
    records.push({ id: `r${i}`, image: rel, conversations: [{ from: 'human', value: `<image>\nWhat is in picture ${i}?` }, { from: 'gpt', value: `Picture ${i}.` }], ...extra(i) });
  }
  const input = join(dir, 'data.json');
  writeFileSync(input, JSON.stringify(records, null, 2));
  return { input, records };
}

/** Alpaca records with long questions. */
export function alpacaSet(dir: string, n: number, name = 'data.json'): string {
  const recs = Array.from({ length: n }, (_, i) => ({ instruction: `Please describe in detail what happens to the river number ${i} when the snow melts in spring and why.`, input: '', output: `The river ${i} rises. It floods the valley.` }));
  const input = join(dir, name);
  writeFileSync(input, JSON.stringify(recs, null, 2));
  return input;
}

/** Exactly one line on stderr, prefixed as every bdlab failure is. */
export function oneLine(r: Run): string {
  const lines = r.stderr.trim().split('\n');
  if (lines.length !== 1 || !lines[0]?.startsWith('bdlab: ')) throw new Error(`expected one bdlab error line, got: ${r.stderr}`);
  return lines[0];
}
