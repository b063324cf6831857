import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';

/** Repository root (tests run from dist/test/eval). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export { BACKDOORLLM, skipWithoutBackdoorLLM } from '../shared-data.js';

export function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bdlab-eval-'));
}

export function writeJson(dir: string, name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
}

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the compiled `bdlab` with arguments. */
export function bdlab(args: string[], env: Record<string, string> = {}): CliRun {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'bdlab.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BDLAB_PROGRESS: '0', ...env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** |a − b| ≤ tol · max(1, |b|). */
export function close(a: number, b: number, tol = 1e-12): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

/** Runs `bdlab` without blocking the event loop (for tests that serve HTTP in-process). */
export function bdlabAsync(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'bdlab.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, BDLAB_PROGRESS: '0', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ status: code ?? -1, stdout, stderr }));
  });
}
