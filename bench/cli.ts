/**
 * bench:cli — commands timed as whole processes, the way a user runs them:
 * start-up (`bdlab --help`, `bdlab eval asrg`) against bare `node`, and
 * `bdlab eval captions` on 5,000 images × 5 references against coco-caption's
 * own scorers (pycocoevalcap, run with /usr/bin/python3 on the same files,
 * PTB tokenisation included). Nothing is fetched: when pycocoevalcap is not
 * importable the benchmark says so and times ours alone (PYTHONPATH reaches a
 * checkout of it; see bench/cli_ref.py for the tokenizer it uses). Each command runs in
 * interleaved rounds and keeps its best wall time.
 *
 * Last stdout line: {"startup_over_node_s", "asrg_over_node_s",
 * "captions_5k_s", "captions_vs_pycocoevalcap", ...}.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCorpus } from './caption-corpus.js';
import { processEnv, round } from './common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bdlab = join(root, 'bin', 'bdlab.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const run = processEnv({ BDLAB_PROGRESS: '0' });
if (run.note) process.stderr.write(`${run.note}\n`);

/** Wall seconds of one process run; throws when it fails. */
function wall(cmd: string, args: string[]): { seconds: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: run.env });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

const dir = mkdtempSync(join(tmpdir(), 'bdlab-bench-cli-'));
try {
  const corpus = makeCorpus(5000, 2024);
  const pred = join(dir, 'pred.json');
  const refs = join(dir, 'refs.json');
  writeFileSync(pred, JSON.stringify(corpus.candidates.map((caption, image_id) => ({ image_id, caption }))));
  writeFileSync(
    refs,
    JSON.stringify({
      images: corpus.candidates.map((_, id) => ({ id })),
      annotations: corpus.references.flatMap((rs, image_id) => rs.map((caption, k) => ({ id: image_id * 5 + k, image_id, caption }))),
    }),
  );

  const cases: Record<string, [string, string[]]> = {
    node: [process.execPath, ['-e', '0']],
    help: [process.execPath, [bdlab, '--help']],
    asrg: [process.execPath, [bdlab, 'eval', 'asrg', '--attacker', '80', '--user', '40', '--json']],
    captions: [process.execPath, [bdlab, 'eval', 'captions', '--pred', pred, '--refs', refs, '--json']],
  };
  const best: Record<string, number> = {};
  let ours: Record<string, number> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, [cmd, args]] of Object.entries(cases)) {
      const { seconds, stdout } = wall(cmd, args);
      best[name] = Math.min(best[name] ?? Infinity, seconds);
      if (name === 'captions') ours = JSON.parse(stdout) as Record<string, number>;
    }
    process.stderr.write(`round ${r + 1}/${ROUNDS}: ${Object.entries(best).map(([k, v]) => `${k} ${v.toFixed(3)} s`).join(', ')} (best so far)\n`);
  }

  // pycocoevalcap (with its Java PTB tokenizer) takes seconds per run: 3 rounds
  let ref: { available: boolean; reason?: string; seconds?: number; scores?: Record<string, number>; tokenizer?: string } = { available: false };
  let refWall = Infinity;
  for (let r = 0; r < 3; r++) {
    const { seconds, stdout } = wall('/usr/bin/python3', [join(root, 'bench', 'cli_ref.py'), pred, refs]);
    ref = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as typeof ref;
    if (!ref.available) break;
    refWall = Math.min(refWall, seconds);
  }
  if (!ref.available) process.stderr.write(`reference: ${ref.reason ?? 'pycocoevalcap not available'}; timing ours alone\n`);

  const figures: Record<string, number | string | boolean | null> = {
    node_s: round(best.node!),
    help_s: round(best.help!),
    startup_over_node_s: round(best.help! - best.node!),
    asrg_over_node_s: round(best.asrg! - best.node!),
    captions_5k_s: round(best.captions!),
    pycocoevalcap_available: ref.available,
    pycocoevalcap_5k_s: ref.available ? round(refWall) : null,
    captions_vs_pycocoevalcap: ref.available ? round(refWall / best.captions!, 2) : null,
    cider_ours: round(ours.CIDEr ?? NaN, 6),
    cider_pycocoevalcap: ref.available ? round(ref.scores?.CIDEr ?? NaN, 6) : null,
    pycocoevalcap_tokenizer: ref.tokenizer ?? null,
    node_extra_ca_certs_cost_s: run.caCertsCostS,
  };
  console.log(JSON.stringify(figures));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
