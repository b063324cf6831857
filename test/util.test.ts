import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../src/util/atomic.js';
import { Progress, formatSeconds } from '../src/util/progress.js';

test('writeJsonAtomic leaves only the target file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-'));
  writeJsonAtomic(join(dir, 'a.json'), { x: 1 });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8')), { x: 1 });
  assert.deepEqual(readdirSync(dir), ['a.json']);
});

test('progress renders count, rate and ETA', () => {
  const p = new Progress({ label: 'x', total: 10, unit: 'img' });
  p.tick(5);
  const s = p.render();
  assert.match(s, /5\/10/);
  assert.match(s, /img\/s/);
  assert.match(s, /eta/);
  assert.equal(formatSeconds(75), '1m15s');
});

test('progress on a non-terminal stderr: silent for short jobs, a line every few seconds for long ones', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const mod = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'util', 'progress.js')).href;
  const run = (ms: number): string => {
    const script =
      `const { Progress } = await import(${JSON.stringify(mod)});` +
      `const p = new Progress({ label: 'job', total: 1000, unit: 'rec' });` +
      `const end = Date.now() + ${ms}; while (Date.now() < end) { p.tick(1); await new Promise((r) => setTimeout(r, 20)); }` +
      `p.finish();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, BDLAB_PROGRESS: '' } });
    assert.equal(r.status, 0, r.stderr);
    return r.stderr;
  };
  assert.equal(run(100), '');
  const long = run(2600).trim().split('\n');
  assert.ok(long.length >= 2, `expected a progress line and the final line, got ${JSON.stringify(long)}`);
  assert.ok(long.every((l) => /^job \[#*\.*\] \d+\/1000 /.test(l)), long.join('\n'));
});
