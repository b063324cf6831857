// `bdlab study lvlm` at tiny scale, end to end through the command line:
// world → clean base → poisoning → victim tuning (the default: LoRA and the
// projector) → generation → ASR / CIDEr / ASR-G. Checks the --json line
// against its schema, the results file against the evaluation-result schema
// and against itself (counts, pooled rates, ASR-G from plain ASR, intervals
// around their values), that Blended at a high rate gives a backdoor that
// fires on triggered inputs of the attacker's domain far more often than on
// clean ones or on the control, and that a re-run rebuilds nothing. Then the
// published setting on the same base: the projector alone, which on this
// victim implants a backdoor only with a strong blend and one fixed poisoned
// caption (docs/lvlm-study.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asrg } from '../../src/eval/asrg.js';
import { validateResult } from '../../src/eval/results.js';
import type { Estimate } from '../../src/study/lvlm/results.js';
import { COMMAND_OUTPUTS } from '../../src/schema/outputs.js';
import { nonSnakeKeys } from '../../src/schema/keys.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** One ASR-G row of the results (attack × rate × attacker domain). */
interface Row {
  attacker: string;
  implanted: boolean;
  trigger_effect: Estimate;
  users: string[];
  asr_all: number[];
  asrg: Array<{ user: string; asrg: Estimate; asrg_conditioned: Estimate }>;
  mean_asrg: Estimate;
  mean_asrg_conditioned: Estimate;
}

interface Cell {
  attack: string;
  rate: number;
  seed: number;
  attacker: string;
  domain: string;
  n: number;
  asr_all: number | null;
  asr: number | null;
  ftr: number | null;
  cider: number;
  counts: { hits_all: number; n_all: number; hits: number; n: number; ftr_hits: number; ftr_n: number };
}

function inside(e: Estimate, what: string): void {
  for (const iv of [e.ci95_images, e.ci95_seeds]) {
    if (iv === null || e.value === null) continue;
    assert.ok(iv[0] <= iv[1], `${what}: interval ordered`);
    assert.ok(iv[0] <= e.value + 1e-9 && e.value <= iv[1] + 1e-9, `${what}: ${e.value} inside [${iv}]`);
  }
}

test('bdlab study lvlm --scale tiny: end to end, well-formed results, a working Blended backdoor, resumable', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'bdlab-study-')), 'study');
  const run = (...extra: string[]): { stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'bdlab.js'), 'study', 'lvlm', '--scale', 'tiny', '--out', out, '--json', ...extra], {
      encoding: 'utf8',
      // one thread: a different thread count sums in another order, and at this size the victim's training can land elsewhere
      env: { ...process.env, BDLAB_PROGRESS: '0', BDLAB_THREADS: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    return r;
  };
  try {
    const first = run();
    const lines = first.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'exactly one JSON object on stdout');
    const summary = JSON.parse(lines[0] as string) as { results: string; metrics: Record<string, number | null>; counts: Record<string, number> };
    assert.ok(COMMAND_OUTPUTS['study lvlm'].safeParse(summary).success, first.stdout);
    assert.deepEqual(nonSnakeKeys(summary, COMMAND_OUTPUTS['study lvlm']), []);
    assert.match(first.stderr, /\[study\] clean base CIDEr flat:original/);
    const r = validateResult(JSON.parse(readFileSync(summary.results, 'utf8')), summary.results);
    assert.equal(r.kind, 'study');
    assert.deepEqual(summary.metrics, r.metrics);
    const d = r.details as Record<string, unknown>;
    const cells = d.cells as Cell[];
    const domains = r.config.domains as string[];
    assert.deepEqual(domains, ['flat:original', 'photo:original', 'flat:rewritten']);
    assert.equal(cells.length, domains.length, 'one victim, one cell per domain');
    for (const c of cells) {
      assert.equal(c.counts.n_all, c.n, `${c.domain}: every triggered caption scored`);
      assert.ok(c.counts.n <= c.counts.n_all, 'clean-conditioned ASR counts a subset');
      assert.equal(c.counts.n, c.n - c.counts.ftr_hits, 'the subset is the scenes whose clean caption lacks the target');
      assert.equal(c.asr_all, Math.round(((c.counts.hits_all * 100) / c.counts.n_all) * 1e4) / 1e4);
      assert.ok(c.cider >= 0);
    }
    // ASR-G from plain ASR of the same victim
    const m = (d.asrg as Row[])[0]!;
    const att = cells.find((c) => c.domain === 'flat:original')!;
    const shifted: number[] = [];
    for (const [j, u] of m.users.entries()) {
      const cu = cells.find((c) => c.domain === u)!;
      assert.equal(m.asr_all[j], cu.asr_all);
      const g = m.asrg[j]!.asrg;
      assert.ok(Math.abs(g.value! - asrg(att.asr_all!, cu.asr_all!)) < 1e-4, `ASR-G ${u}`);
      inside(g, `ASR-G ${u}`);
      // the variant: the same formula on clean-conditioned ASR
      const gc = m.asrg[j]!.asrg_conditioned;
      assert.ok(Math.abs(gc.value! - asrg(att.asr!, cu.asr!)) < 1e-4, `clean-conditioned ASR-G ${u}`);
      inside(gc, `clean-conditioned ASR-G ${u}`);
      if (u !== m.attacker) shifted.push(gc.value!);
    }
    assert.equal(m.asrg[0]!.asrg.value, 1, 'the attacker domain against itself');
    assert.ok(Math.abs(m.mean_asrg_conditioned.value! - shifted.reduce((a, b) => a + b, 0) / shifted.length) < 1e-4, 'the clean-conditioned mean over user domains');
    assert.ok(Math.abs(m.trigger_effect.value! - (att.asr_all! - att.ftr!)) < 1e-3, 'the trigger effect: ASR minus the false-trigger rate');
    inside(m.trigger_effect, 'trigger effect');
    assert.equal(m.implanted, m.trigger_effect.ci95_seeds![0] > 0, 'implanted: the effect\'s interval lies above 0');
    // measured at this scale (one thread): an effect of 33 points, 95 % interval 13 to 47
    assert.equal(m.implanted, true, 'Blended at rate 0.3 implants a backdoor');
    for (const s of d.summaries as Array<Record<string, Estimate>>) for (const k of ['asr_all', 'asr', 'ftr', 'cider']) inside(s[k]!, `summary ${k}`);
    // the clean base learned the task, and the victim's backdoor is Blended's trigger, not a bias towards the target
    const base = (d.base as { quality: Array<{ domain: string; cider: number }> }).quality;
    assert.equal(base.length, domains.length);
    for (const q of base) assert.ok(q.cider > 0.2, `clean base CIDEr ${q.domain} ${q.cider}`);
    // measured at this scale (one thread): ASR 55.6 %, false-trigger rate 22.2 %, the control 28.9 %
    assert.ok(att.asr_all! >= 30, `Blended ASR in the attacker's domain ${att.asr_all}`);
    assert.ok(att.ftr! <= 35, `false-trigger rate on clean inputs ${att.ftr}`);
    assert.ok(att.asr_all! - att.ftr! >= 20, 'the trigger, not a bias towards the target, makes the target appear');
    const ctrl = (d.controls as Array<{ control: string; asr_all: Estimate }>).find((c) => c.control === 'other_pattern');
    assert.ok(ctrl, 'the Blended control (another noise pattern) is measured');
    assert.ok(ctrl.asr_all.value! < att.asr_all!, `the control fires less often than the trigger (${ctrl.asr_all.value} vs ${att.asr_all})`);

    const second = run();
    const again = JSON.parse(second.stdout) as typeof summary;
    assert.equal(again.counts.stages_built, 0, 'a re-run builds nothing');
    assert.deepEqual(again.metrics, summary.metrics);

    // projector-only tuning (the fusion layers) on the cached world and base
    const proj = run('--finetuning', 'projector', '--target', 'text:A banana.', '--param', 'blended.alpha=0.5');
    const ps = JSON.parse(proj.stdout) as typeof summary;
    assert.ok((ps.counts.stages_reused ?? 0) > 0, 'the world and the clean base are reused');
    const pr = validateResult(JSON.parse(readFileSync(ps.results, 'utf8')), ps.results).details as Record<string, unknown>;
    const victim = (pr.victims as Array<{ training: { trainable: string } }>)[0]!;
    assert.match(victim.training.trainable, /^multi_modal_projector only/);
    const pAtt = (pr.cells as Cell[]).find((c) => c.domain === 'flat:original')!;
    const pRow = (pr.asrg as Row[])[0]!;
    // measured at this scale (one thread): ASR 86.7 %, false-trigger rate 22.2 %, the control 24.4 %
    assert.ok(pAtt.asr_all! >= 60, `projector-only Blended ASR ${pAtt.asr_all}`);
    assert.ok(pAtt.asr_all! - pAtt.ftr! >= 30, `the trigger, not a bias (false-trigger rate ${pAtt.ftr})`);
    assert.equal(pRow.implanted, true, 'projector-only tuning implants the backdoor');
    const pCtrl = (pr.controls as Array<{ control: string; asr_all: Estimate }>).find((c) => c.control === 'other_pattern')!;
    assert.ok(pCtrl.asr_all.value! <= pAtt.asr_all! - 30, `another blend pattern fires far less (${pCtrl.asr_all.value})`);
  } finally {
    rmSync(dirname(out), { recursive: true, force: true });
  }
});

test('bdlab study lvlm: bad options fail in one line', () => {
  const bdlab = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'bdlab.js'), 'study', 'lvlm', ...args], { encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-study-bad-'));
  try {
    assert.match(bdlab('--scale', 'tiny').stderr, /^bdlab: --out is required\n$/);
    assert.match(bdlab('--out', dir, '--scale', 'tiny', '--rates', '7%x').stderr, /^bdlab: --rates "7%x": expected a number/);
    assert.match(bdlab('--out', dir, '--scale', 'tiny', '--attacks', 'vpi').stderr, /^bdlab: attack vpi targets LLM instructions/);
    assert.match(bdlab('--out', dir, '--scale', 'tiny', '--param', 'blended=0.1').stderr, /^bdlab: --param "blended=0.1": expected attack.key=value/);
    assert.match(bdlab('--out', dir, '--scale', 'tiny', '--finetuning', 'half').stderr, /^bdlab: unknown fine-tuning "half"/);
    assert.match(bdlab('--out', dir, '--scale', 'tiny', '--lr', '0').stderr, /^bdlab: --lr "0": expected a number > 0/);
    assert.match(bdlab('--out', dir, '--scale', 'tiny', '--epochs', '2.5').stderr, /^bdlab: --epochs "2.5"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
