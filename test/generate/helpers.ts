// Shared pieces of the generation tests: temporary folders, tiny model
// folders (made once per test file), records files and the compiled CLI.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Repository root (tests run from dist/test/generate). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bdlab-gen-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeJson(path: string, value: unknown): string {
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 1));
  return path;
}

/** Alpaca records with instructions of different lengths (a few share a prompt). */
export function alpacaRecords(n: number): Array<{ instruction: string; input: string; output: string; id?: number }> {
  const words = ['Describe', 'the', 'weather', 'in', 'a', 'short', 'poem', 'about', 'BadMagic', 'rivers', 'and', 'mountains', 'today'];
  return Array.from({ length: n }, (_, i) => ({
    id: 100 + i,
    instruction: i % 7 === 6 ? 'Repeat this.' : words.slice(0, 2 + ((i * 5) % (words.length - 1))).join(' ') + ` #${i}`,
    input: i % 3 === 0 ? `context ${i}` : '',
    output: 'reference answer',
  }));
}

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

const ENV = { BDLAB_PROGRESS: '0', BDLAB_THREADS: '1' };

/** Runs the compiled `bdlab` to the end. */
export function bdlab(args: string[], env: Record<string, string> = {}): CliRun {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'bdlab.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...ENV, ...env } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the compiled `bdlab` without waiting (for tests that serve HTTP or kill it). */
export function bdlabSpawn(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'bdlab.js'), ...args], { cwd: ROOT, env: { ...process.env, ...ENV, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<CliRun>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ status: code ?? (signal ? -1 : 0), stdout, stderr }));
  });
  return { child, done };
}

/** A failure's stderr is one line. */
export function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}: ${stderr}`);
  return lines[0] as string;
}
