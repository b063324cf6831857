// Shared helpers for the benchmarks: timing, reference processes, JSON output.
import { spawnSync } from 'node:child_process';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Times fn `reps` times after `warmup` calls; returns the median seconds. */
export function timeIt(fn: () => void, reps: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  return median(times);
}

/** Runs a Python reference script and parses the JSON object it prints last. */
export function runPython(candidates: string[], args: string[], needs: string): Record<string, unknown> {
  for (const py of candidates) {
    const probe = spawnSync(py, ['-c', `import ${needs}`], { stdio: 'ignore' });
    if (probe.status !== 0) continue;
    const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`${py} ${args[0]} failed: ${r.stderr}`);
    const last = r.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(last) as Record<string, unknown>;
  }
  throw new Error(`no python3 with ${needs} found (tried ${candidates.join(', ')}): run \`bash scripts/setup.sh --bench\``);
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/**
 * The environment whole-process benchmarks run commands in: this one without
 * NODE_EXTRA_CA_CERTS. With it set, every Node process reads that certificate
 * bundle before running any code (Node 20 does so at start-up, 30–40 ms for
 * Debian's bundle); it is a setting of the machine, not part of bdlab, and a
 * default install has none. `note` says when it was removed and what it costs
 * here (bare `node -e 0`, best of `rounds`), so the figures can be read either way.
 */
export function processEnv(extra: Record<string, string> = {}, rounds = 5): { env: NodeJS.ProcessEnv; note: string | null; caCertsCostS: number | null } {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  const bundle = env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_EXTRA_CA_CERTS;
  if (!bundle) return { env, note: null, caCertsCostS: null };
  const best = (e: NodeJS.ProcessEnv): number => {
    let b = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0'], { env: e, stdio: 'ignore' });
      b = Math.min(b, Number(process.hrtime.bigint() - t) / 1e9);
    }
    return b;
  };
  const cost = best({ ...env, NODE_EXTRA_CA_CERTS: bundle }) - best(env);
  const note = `NODE_EXTRA_CA_CERTS is set here (${bundle}): Node reads that bundle at every start, +${cost.toFixed(3)} s for bare node; commands are timed without it, as on a default install`;
  return { env, note, caCertsCostS: round(cost) };
}
