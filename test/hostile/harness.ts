// Running the CLI on hostile input with a bound on time and memory: the child
// is killed past its time limit or when its resident memory passes the cap,
// and the peak resident set size (VmHWM from /proc) is reported, so a test
// fails on a hang or a blow-up instead of taking the machine down.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

/** Repository root (tests run from dist/test/hostile). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The acceptance bound of issue 10: every hostile case stays under 1 GB. */
export const MEMORY_CAP_MB = 1024;

export interface CappedRun {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child in MB (its VmHWM, polled). */
  peakMb: number;
  /** Set when the harness killed the child. */
  killed: 'timeout' | 'cpu' | 'memory' | null;
  seconds: number;
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}

function hwmKb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export interface CapOptions {
  /** CPU seconds before the child counts as hung (default 30: a busy machine slows wall time, not CPU time). */
  cpuSeconds?: number;
  /** Wall-clock bound, for children that hang without using CPU (a read from a FIFO); default 180 s. */
  timeoutMs?: number;
  capMb?: number;
  env?: Record<string, string>;
  input?: string;
}

/** Runs `node <script> ...args` with a time limit and a memory cap. */
export function runNodeCapped(script: string, args: string[], o: CapOptions = {}): Promise<CappedRun> {
  const timeoutMs = o.timeoutMs ?? 180_000;
  const cpuLimit = o.cpuSeconds ?? 30;
  const capMb = o.capMb ?? MEMORY_CAP_MB;
  const started = Date.now();
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: ROOT,
      env: { ...process.env, BDLAB_PROGRESS: '0', BDLAB_THREADS: '1', ...(o.env ?? {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    let killed: CappedRun['killed'] = null;
    child.stdout.on('data', (b: Buffer) => {
      if (stdout.length < 1_000_000) stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 1_000_000) stderr += b.toString();
    });
    child.stdin.end(o.input ?? '');
    const poll = setInterval(() => {
      const kb = child.pid !== undefined ? hwmKb(child.pid) : null;
      if (kb !== null) peakKb = Math.max(peakKb, kb);
      if (peakKb > capMb * 1024 && !killed) {
        killed = 'memory';
        child.kill('SIGKILL');
      }
      const cpu = child.pid !== undefined ? cpuSeconds(child.pid) : null;
      if (cpu !== null && cpu > cpuLimit && !killed) {
        killed = 'cpu';
        child.kill('SIGKILL');
      }
    }, 10);
    const timer = setTimeout(() => {
      if (!killed) killed = 'timeout';
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', () => {
      const kb = child.pid !== undefined ? hwmKb(child.pid) : null;
      if (kb !== null) peakKb = Math.max(peakKb, kb);
    });
    child.on('close', (status, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      done({ status, signal, stdout, stderr, peakMb: peakKb / 1024, killed, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** Runs `bdlab ...args` with a time limit and a memory cap. */
export function bdlabCapped(args: string[], o: CapOptions = {}): Promise<CappedRun> {
  return runNodeCapped(join(ROOT, 'bin', 'bdlab.js'), args, o);
}

/**
 * The contract for a refused hostile input: exit 1, nothing on stdout, one
 * line on stderr matching `pattern`, within the time limit and under the cap.
 * Returns the message.
 */
export function assertRefused(r: CappedRun, pattern: RegExp): string {
  assert.equal(r.killed, null, `killed for ${r.killed ?? ''} after ${r.seconds.toFixed(1)} s at ${r.peakMb.toFixed(0)} MB; stderr: ${r.stderr.slice(0, 300)}`);
  assert.ok(r.peakMb < MEMORY_CAP_MB, `peak memory ${r.peakMb.toFixed(0)} MB`);
  assert.equal(r.status, 1, `exit ${r.status}; stdout: ${r.stdout.slice(0, 300)}; stderr: ${r.stderr.slice(0, 300)}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr.slice(0, 600)}`);
  assert.match(lines[0] as string, /^bdlab: /);
  assert.match(lines[0] as string, pattern);
  return lines[0] as string;
}

/** The contract for a hostile input that is handled: exit 0 within the limits. */
export function assertOk(r: CappedRun): void {
  assert.equal(r.killed, null, `killed for ${r.killed ?? ''} after ${r.seconds.toFixed(1)} s at ${r.peakMb.toFixed(0)} MB; stderr: ${r.stderr.slice(0, 300)}`);
  assert.ok(r.peakMb < MEMORY_CAP_MB, `peak memory ${r.peakMb.toFixed(0)} MB`);
  assert.equal(r.status, 0, r.stderr);
}

export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bdlab-hostile-${tag}-`));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Makes a FIFO (named pipe); false where mkfifo is not available. */
export function mkfifo(path: string): boolean {
  try {
    execFileSync('mkfifo', [path]);
    return true;
  } catch {
    return false;
  }
}
