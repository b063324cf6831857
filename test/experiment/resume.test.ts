// `bdlab run` resumes: a run killed with SIGKILL in the middle of a stage and
// run again finishes without running any finished stage again, and its
// results.json is byte-identical, apart from `timing`, to an uninterrupted
// run's. A third run finds everything cached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bdlab = join(root, 'bin', 'bdlab.js');

const TINY_SPEC = `
name: tiny-resume
seeds: [0]
data:
  world: { name: demo-instructions, params: { held_out: 4 } }
attacks:
  - name: badnet
rates: [0.25]
victim:
  model: { preset: tiny }
  base_training: { finetuning_type: full, num_train_epochs: 1, learning_rate: 0.003, per_device_train_batch_size: 16 }
  # long enough that the kill lands inside it
  training: { finetuning_type: lora, num_train_epochs: 3, learning_rate: 0.003, per_device_train_batch_size: 16 }
evaluations: [asr, clean_accuracy, { name: layer_consistency, params: { samples: 2 } }]
generation: { max_new_tokens: 4, batch_size: 16 }
`;

const env = { ...process.env, BDLAB_PROGRESS: '0' };

function runToEnd(spec: string, out: string): { stderr: string; json: { stages: { ran: number; cached: number } } } {
  const r = spawnSync(process.execPath, [bdlab, 'run', spec, '--out', out, '--json'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object on stdout');
  return { stderr: r.stderr, json: JSON.parse(lines[0] as string) as { stages: { ran: number; cached: number } } };
}

/** Stage ids from "[run] start|done i/n ID ..." lines. */
function stages(stderr: string, what: 'start' | 'done'): string[] {
  return [...stderr.matchAll(new RegExp(`^\\[run\\] ${what} \\d+/\\d+ (\\S+)`, 'gm'))].map((m) => m[1] as string);
}

/** Runs until the victim's training starts, then kills the process with SIGKILL. */
function runAndKill(spec: string, out: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bdlab, 'run', spec, '--out', out], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      err += d;
      if (/^\[run\] start \d+\/\d+ train\/victim\//m.test(err) && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(err) : reject(new Error(`the run ended (${code}) before it was killed:\n${err}`))));
  });
}

function withoutTiming(path: string): string {
  const text = readFileSync(path, 'utf8');
  const at = text.indexOf('\n  "timing": ');
  assert.ok(at > 0, 'results.json ends with its timing block');
  assert.equal(Object.keys(JSON.parse(text) as object).at(-1), 'timing');
  return text.slice(0, at);
}

test('a run killed with SIGKILL resumes without redoing finished stages, and gives the same results', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-resume-'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, TINY_SPEC);

  const reference = runToEnd(spec, join(dir, 'reference'));
  const all = stages(reference.stderr, 'start');
  assert.equal(reference.json.stages.cached, 0);
  assert.equal(all.length, reference.json.stages.ran);

  const out = join(dir, 'killed');
  const killedLog = await runAndKill(spec, out);
  const finished = stages(killedLog, 'done');
  const interrupted = stages(killedLog, 'start').filter((s) => !finished.includes(s));
  assert.ok(finished.length >= 3, `some stages finished before the kill:\n${killedLog}`);
  assert.deepEqual(interrupted, [interrupted.find((s) => s.startsWith('train/victim/'))], `the kill landed inside the victim's training:\n${killedLog}`);
  assert.ok(!existsSync(join(out, 'results.json')));
  assert.ok(readdirSync(join(out, 'artifacts', 'train')).some((f) => f.startsWith('.tmp-')), 'the interrupted stage left only a temporary folder');

  const resumed = runToEnd(spec, out);
  const again = stages(resumed.stderr, 'start');
  assert.deepEqual(again.filter((s) => finished.includes(s)), [], `no finished stage runs again:\n${resumed.stderr}`);
  assert.ok(again.includes(interrupted[0] as string), 'the interrupted stage runs again');
  assert.equal(finished.length + again.length, all.length, 'every stage ran exactly once to completion over the two runs');
  assert.equal(resumed.json.stages.cached, finished.length);
  assert.match(resumed.stderr, /removed 1 unfinished stage folder/);
  assert.ok(!readdirSync(join(out, 'artifacts', 'train')).some((f) => f.startsWith('.tmp-')));

  assert.equal(withoutTiming(join(out, 'results.json')), withoutTiming(join(dir, 'reference', 'results.json')), 'results.json byte-identical apart from timing');
  const log = readFileSync(join(out, 'stages.log'), 'utf8');
  assert.equal((log.match(/ start /g) ?? []).length, all.length + 1, 'stages.log: every stage started once, the interrupted one twice');

  const dry = spawnSync(process.execPath, [bdlab, 'run', spec, '--out', out, '--dry-run', '--json'], { encoding: 'utf8', env });
  const states = (JSON.parse(dry.stdout) as { stages: Array<{ state: string; key: string }> }).stages;
  assert.equal(states.length, all.length);
  assert.ok(states.every((x) => x.state === 'cached' && /^[0-9a-f]{20}$/.test(x.key)), '--dry-run: every stage cached');

  const third = runToEnd(spec, out);
  assert.equal(third.json.stages.ran, 0, 'a finished run reruns nothing');
  assert.equal(withoutTiming(join(out, 'results.json')), withoutTiming(join(dir, 'reference', 'results.json')));
});
