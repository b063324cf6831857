// A results.json with every section of the report filled: two attacks, two
// rates, two seeds, two domains, a defense, training curves, layer profiles and
// poisoned images (real PNG files written beside it). The numbers are made up
// for the renderer; the pipeline's own output is checked in test/experiment.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { wilsonPercent } from '../../src/eval/stats/wilson.js';
import { RESULTS_SCHEMA, RESULTS_VERSION, type ExperimentResults } from '../../src/experiment/results-schema.js';

type Role = 'clean' | 'victim' | 'defended';

function asrRow(role: Role, attack: string, rate: number | null, defense: string | null, domain: string, hits: number, n: number): ExperimentResults['summary']['asr'][number] {
  const asr = (hits * 100) / n;
  return {
    role,
    attack,
    target: 'negsentiment',
    rate,
    defense,
    domain,
    seeds: 2,
    asr,
    asr_ci95: wilsonPercent(hits, n),
    n,
    hits,
    asr_all: asr,
    asr_all_ci95: wilsonPercent(hits, n),
    ftr: 2,
    ftr_ci95: wilsonPercent(1, n),
    asr_per_seed: [asr - 1, asr + 1],
    asr_seed_mean: asr,
    asr_seed_ci95: [asr - 5, asr + 5],
  };
}

export async function writeFixture(dir: string): Promise<string> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const images: string[] = [];
  for (let i = 0; i < 3; i++) {
    const rel = `images/poisoned-${i}.png`;
    await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 40 * i, g: 120, b: 200 } } })
      .composite([{ input: { create: { width: 12, height: 12, channels: 3, background: { r: 255, g: 255, b: 0 } } }, left: 80, top: 48 }])
      .png()
      .toFile(join(dir, rel));
    images.push(rel);
  }
  const attacks = ['badnet', 'ctba'];
  const domains = ['attacker', 'summary'];
  const rates = [0.05, 0.1];
  const asr: ExperimentResults['summary']['asr'] = [];
  for (const d of domains) {
    for (const a of attacks) {
      asr.push(asrRow('clean', a, null, null, d, 1, 64));
      for (const r of rates) asr.push(asrRow('victim', a, r, null, d, Math.round(r * 500) - (d === 'summary' ? 20 : 0), 64));
      asr.push(asrRow('defended', a, 0.1, 'crow', d, 6, 64));
    }
  }
  const asrg: ExperimentResults['summary']['asrg'] = attacks.flatMap((a) =>
    rates.map((r) => ({ role: 'victim' as const, attack: a, target: 'negsentiment', rate: r, defense: null, attacker_domain: 'attacker', domain: 'summary', seeds: 2, asrg: a === 'badnet' ? 0.4 + r : 0.9, asrg_per_seed: [0.5, 0.6], asrg_seed_mean: 0.55, asrg_seed_ci95: [0.1, 1] as [number, number] })),
  );
  const layers = 8;
  const profile = (base: number, dip: number): number[] => Array.from({ length: layers }, (_, l) => base - (l === 4 ? dip : 0) - 0.01 * l);
  const cell = (role: Role, defense: string | null) => ({ role, attack: 'badnet', target: 'negsentiment', rate: role === 'clean' ? null : 0.1, defense });
  const results: ExperimentResults = {
    schema: RESULTS_SCHEMA,
    version: RESULTS_VERSION,
    tool: { name: 'backdoor-lab', version: '0.1.0' },
    spec: { name: 'fixture', description: 'Every section of the report.', file: 'fixture.yaml', sha256: 'f'.repeat(64), modality: 'text' },
    seeds: [0, 1],
    rates,
    attacks: attacks.map((a) => ({ label: a, name: a, params: {}, targets: ['negsentiment'], prepoisoned: false })),
    defenses: [{ label: 'crow', name: 'crow', params: { alpha: '5.5' }, targets: null }],
    domains: [
      { name: 'attacker', role: 'attacker', description: "the attacker's" },
      { name: 'summary', role: 'user', description: 'attacker, shifted: question summary' },
    ],
    models: [{ id: 'clean/s0', ...cell('clean', null), attack: null, target: null, seed: 0, artifact: 'artifacts/train/abc' }],
    records: [],
    summary: { asr, asrg, accuracy: [{ role: 'clean', attack: null, target: null, rate: null, defense: null, domain: 'attacker', seeds: 2, accuracy: 80, accuracy_ci95: wilsonPercent(51, 64), n: 64, hits: 51 }] },
    training: [
      { model: 'clean/s0', role: 'clean', attack: null, target: null, rate: null, defense: null, seed: 0, steps: 600, tokens: 1000, samples: 96, first_loss: 6, last_loss: 0.5, losses: Array.from({ length: 600 }, (_, i) => 6 * Math.exp(-i / 100) + 0.5) },
      { model: 'victim/badnet/negsentiment/r0.1/s0', ...cell('victim', null), seed: 0, steps: 30, tokens: 300, samples: 96, first_loss: 1, last_loss: 0.3, losses: Array.from({ length: 30 }, (_, i) => 1 - i / 45) },
    ],
    layer_consistency: [
      { model: 'clean/s0', ...cell('clean', null), seed: 0, domain: 'attacker', n: 16, clean: profile(0.9, 0), triggered: profile(0.9, 0.01), clean_score_mean: 0.1, triggered_score_mean: 0.11 },
      { model: 'victim/badnet/negsentiment/r0.1/s0', ...cell('victim', null), seed: 0, domain: 'attacker', n: 16, clean: profile(0.9, 0), triggered: profile(0.9, 0.3), clean_score_mean: 0.1, triggered_score_mean: 0.2 },
      { model: 'crow/badnet/negsentiment/r0.1/s0', ...cell('defended', 'crow'), seed: 0, domain: 'attacker', n: 16, clean: profile(0.92, 0), triggered: profile(0.92, 0.02), clean_score_mean: 0.08, triggered_score_mean: 0.09 },
    ],
    contact_sheets: [{ attack: 'badnets', domain: 'attacker', seed: 0, images: images.map((p, i) => ({ poisoned: p, clean: null, label: `#${i}` })) }],
    stages: [{ id: 'world/demo', kind: 'world', key: 'k'.repeat(20), artifact: `artifacts/world/${'k'.repeat(20)}` }],
    unavailable: [{ id: 'detect/victim', kind: 'detect', reason: 'stage kind "detect" is not available in this build' }],
    timing: { started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:01:00.000Z', seconds: 60, stages: [{ id: 'world/demo', status: 'ran', seconds: 0.1 }] },
  };
  const path = join(dir, 'results.json');
  writeFileSync(path, JSON.stringify(results, null, 2) + '\n');
  return path;
}
