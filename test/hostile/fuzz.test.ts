// Seeded, bounded fuzzing of the readers of untrusted files: safetensors
// headers, config.json, tokenizer.json fragments and chat templates, output
// records, adapter configs. Every mutated input must be read or refused with
// a one-line UserError — never another exception — and each family runs in
// a child process under a CPU-time and memory cap, so a hang or a blow-up
// fails the test instead of stopping the machine. The same seed gives the
// same cases; a failure names the case to replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MEMORY_CAP_MB, ROOT, runNodeCapped, tempDir } from './harness.js';

const SEED = 20_261_130;
const worker = join(ROOT, 'dist', 'test', 'hostile', 'fuzz-worker.js');

interface CaseLine {
  case: number;
  outcome: 'ok' | 'refused' | 'crash';
  message: string;
}

const families: Array<[string, number]> = [
  ['safetensors', 150],
  ['config', 60],
  ['tokenizer', 60],
  ['records', 150],
  ['adapter', 40],
];

for (const [family, count] of families) {
  test(`fuzz ${family}: ${count} mutated inputs are read or refused in one line, bounded`, async () => {
    const dir = tempDir(`fuzz-${family}`);
    const r = await runNodeCapped(worker, [family, String(SEED), String(count), dir], { cpuSeconds: 90 });
    const lines = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as CaseLine);
    const last = lines[lines.length - 1]?.case ?? -1;
    assert.equal(r.killed, null, `${family}: killed for ${r.killed ?? ''} at case ${last + 1} (seed ${SEED}) after ${r.seconds.toFixed(1)} s, ${r.peakMb.toFixed(0)} MB`);
    assert.ok(r.peakMb < MEMORY_CAP_MB, `${family}: peak memory ${r.peakMb.toFixed(0)} MB`);
    assert.equal(r.status, 0, `${family}: worker exited ${r.status}: ${r.stderr.slice(0, 1000)}`);
    assert.equal(lines.length, count, `${family}: ${lines.length} of ${count} cases reported`);
    const crashes = lines.filter((l) => l.outcome === 'crash');
    assert.deepEqual(crashes, [], `${family} (seed ${SEED}): ${crashes.length} crash(es); first: case ${crashes[0]?.case}: ${crashes[0]?.message}`);
    // the mutations must reach the checks, not only the happy path
    assert.ok(lines.some((l) => l.outcome === 'refused'), `${family}: no case was refused`);
  });
}
