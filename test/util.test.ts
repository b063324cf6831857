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

test('depthExceededAt: the same offsets as a character-by-character scan, on text and on bytes', async () => {
  const { depthExceededAt } = await import('../src/util/json-limits.js');
  const { Rng } = await import('../src/util/rng.js');
  // the definition: strings (with backslash escapes) hide brackets; depth counts [ and {
  const reference = (t: string, max: number): number => {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < t.length; i++) {
      const c = t[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '[' || c === '{') {
        if (++depth > max) return i;
      } else if (c === ']' || c === '}') depth--;
    }
    return -1;
  };
  const rng = new Rng(3, 'json-depth');
  const alphabet = ['[', ']', '{', '}', '"', '\\', 'a', ' ', ','];
  let hits = 0;
  for (let n = 0; n < 3000; n++) {
    const t = Array.from({ length: rng.int(40) }, () => rng.pick(alphabet)).join('');
    const max = rng.int(4);
    const want = reference(t, max);
    if (want >= 0) hits++;
    assert.equal(depthExceededAt(t, max), want, JSON.stringify(t));
    assert.equal(depthExceededAt(new TextEncoder().encode(t), max), want, JSON.stringify(t));
  }
  assert.ok(hits > 300 && hits < 2700, `both outcomes are exercised (${hits} too deep)`);
});
