// The weight-editing defenses' building blocks against their definitions:
// Wanda's masks (unstructured and N:M, against a plain sort), the
// block-by-block order of Wanda's statistics, fake quantisation's grid and
// error bound, and fine-pruning's channel removal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as T from '../../src/engine/index.js';
import { newModelFolder } from '../../src/models/presets.js';
import { loadModel } from '../../src/models/load.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { calibrationSet, decoderLinears, inputStats, linearWeight } from '../../src/defenses/calibrate.js';
import { parsePattern, wandaMask, wandaPrune } from '../../src/defenses/wanda.js';
import { fakeQuantize } from '../../src/defenses/quantize.js';
import { dormantChannels, removeChannels } from '../../src/defenses/fineprune.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../models/fixtures.js';

function randomMatrix(out: number, inn: number, seed: number): number[][] {
  const rng = new Rng(seed, 'matrix');
  return Array.from({ length: out }, () => Array.from({ length: inn }, () => rng.normal()));
}

test('Wanda unstructured: each row loses exactly floor(in·s) weights, those with the smallest |W|·‖X‖', () => {
  const W = randomMatrix(6, 16, 1);
  const ss = Float64Array.from({ length: 16 }, (_, j) => (j + 1) * 0.37);
  const mask = T.scope(() => wandaMask(T.tensor(W), ss, { kind: 'unstructured', sparsity: 0.4 }).tolist() as boolean[][]);
  W.forEach((row, i) => {
    const score = row.map((w, j) => Math.abs(w) * Math.sqrt(ss[j] as number));
    const want = new Set([...score.keys()].sort((a, b) => (score[a] as number) - (score[b] as number)).slice(0, 6));
    const got = new Set((mask[i] as boolean[]).flatMap((m, j) => (m ? [j] : [])));
    assert.deepEqual(got, want, `row ${i}`);
  });
});

test('Wanda N:M: every group of M consecutive inputs loses its N smallest', () => {
  const W = randomMatrix(5, 12, 2);
  const ss = Float64Array.from({ length: 12 }, (_, j) => 1 + (j % 5));
  const mask = T.scope(() => wandaMask(T.tensor(W), ss, { kind: 'nm', n: 2, m: 4 }).tolist() as boolean[][]);
  W.forEach((row, i) => {
    for (let g = 0; g < 12; g += 4) {
      const idx = [g, g + 1, g + 2, g + 3];
      const score = (j: number): number => Math.abs(row[j] as number) * Math.sqrt(ss[j] as number);
      const want = idx.sort((a, b) => score(a) - score(b)).slice(0, 2).sort((a, b) => a - b);
      const got = [g, g + 1, g + 2, g + 3].filter((j) => mask[i]?.[j]);
      assert.deepEqual(got, want, `row ${i} group ${g / 4}`);
    }
  });
  assert.deepEqual(parsePattern('2:4'), { kind: 'nm', n: 2, m: 4 });
  assert.throws(() => parsePattern('4:4'), /0 < N < M/);
  assert.throws(() => T.scope(() => wandaMask(T.zeros([2, 6]), new Float64Array(6), { kind: 'nm', n: 2, m: 4 })), /multiple of M/);
});

test('Wanda prunes block by block: block 1 is scored with block 0 already pruned', () => {
  const { dir, cleanup } = tempDir('wanda');
  try {
    const m = join(dir, 'm');
    newModelFolder(m, { arch: 'llama', preset: 'tiny', seed: 3, overrides: { num_hidden_layers: 3 } });
    const tok = TextTokenizer.load(m);
    const samples = ['Tell me about rivers.', 'Name a colour.', 'What is two and two?'].map((instruction, i) => ({ instruction, output: `Answer number ${i}.` }));
    const set = calibrationSet(tok, samples, { maxLength: 64, batchSize: 2, template: 'auto' });
    const a = loadModel(m).model;
    const sparsity = wandaPrune(a, tok, set, { kind: 'unstructured', sparsity: 0.5 });
    assert.ok(Math.abs(sparsity - 0.5) < 1e-9, `sparsity ${sparsity}`);
    // the same by hand: prune block 0, then take block 1's statistics
    const b = loadModel(m).model;
    const [names0, names1] = decoderLinears(b) as [string[], string[]];
    for (const names of [names0, names1]) {
      const stats = inputStats(b, tok, set, names);
      for (const n of names) {
        const w = linearWeight(b, n);
        const mask = wandaMask(w, (stats.get(n) as { sumSquares: Float64Array }).sumSquares, { kind: 'unstructured', sparsity: 0.5 });
        b.setParameter(`${n}.weight`, T.noGrad(() => w.maskedFill(mask, 0)));
        mask.dispose();
      }
    }
    for (const n of names1) assert.ok(linearWeight(a, n).equal(linearWeight(b, n)), `${n} pruned as in sequence`);
    // dense-model statistics would give other masks somewhere in block 1
    const c = loadModel(m).model;
    const dense = inputStats(c, tok, set, names1);
    const differs = names1.some((n) =>
      T.scope(() => {
        const mask = wandaMask(linearWeight(c, n), (dense.get(n) as { sumSquares: Float64Array }).sumSquares, { kind: 'unstructured', sparsity: 0.5 });
        return !linearWeight(c, n).maskedFill(mask, 0).equal(linearWeight(a, n));
      }),
    );
    assert.ok(differs, 'block 1 statistics depend on block 0 being pruned');
    for (const x of [a, b, c]) x.dispose();
  } finally {
    cleanup();
  }
});

test('fake quantisation: at most 2^b levels per group, error within half a step, zero kept exact', () => {
  const W = randomMatrix(4, 64, 4);
  W[0]![0] = 0;
  for (const symmetric of [false, true]) {
    for (const [bits, group] of [[4, 16], [8, 0], [3, 32]] as const) {
      const q = T.scope(() => fakeQuantize(T.tensor(W), { bits, groupSize: group, symmetric }).tolist() as number[][]);
      const g = group === 0 ? 64 : group;
      W.forEach((row, i) => {
        for (let s = 0; s < 64; s += g) {
          const ws = row.slice(s, s + g);
          const qs = (q[i] as number[]).slice(s, s + g);
          let step: number;
          if (symmetric) step = Math.max(...ws.map(Math.abs)) / (2 ** (bits - 1) - 1);
          else step = (Math.max(...ws, 0) - Math.min(...ws, 0)) / (2 ** bits - 1);
          assert.ok(new Set(qs).size <= 2 ** bits, `${bits} bits: ${new Set(qs).size} levels`);
          ws.forEach((w, j) => assert.ok(Math.abs(w - (qs[j] as number)) <= step / 2 + 1e-6, `|w − q| ≤ step/2 (${bits} bits, ${symmetric ? 'sym' : 'asym'})`));
          // values sit on the grid: (q − q_min) / step is an integer
          const lo = Math.min(...qs);
          qs.forEach((v) => assert.ok(Math.abs((v - lo) / step - Math.round((v - lo) / step)) < 1e-3));
        }
      });
      assert.equal(q[0]?.[0], 0);
    }
  }
  assert.throws(() => T.scope(() => fakeQuantize(T.zeros([2, 10]), { bits: 4, groupSize: 4, symmetric: false }, 'x.weight')), /x\.weight has 10 inputs.*group_size 4/);
});

test('fine-pruning removes the least active channels: gate/up rows and down_proj columns become zero', () => {
  const { dir, cleanup } = tempDir('fineprune');
  try {
    const m = join(dir, 'm');
    newModelFolder(m, { arch: 'llama', preset: 'tiny', seed: 5 });
    const model = loadModel(m).model;
    const down = 'model.layers.1.mlp.down_proj';
    const act = Float64Array.from({ length: 176 }, (_, j) => (j * 37) % 176);
    const ch = dormantChannels(new Map([[down, act]]), 0.25);
    const picked = ch.get(down) as number[];
    assert.equal(picked.length, 44);
    assert.deepEqual(new Set(picked), new Set([...act.keys()].filter((j) => (act[j] as number) < 44)));
    removeChannels(model, ch);
    const rows = (n: string): number[][] => linearWeight(model, n).tolist() as number[][];
    for (const n of ['model.layers.1.mlp.gate_proj', 'model.layers.1.mlp.up_proj']) {
      const w = rows(n);
      picked.forEach((j) => assert.ok((w[j] as number[]).every((v) => v === 0), `${n} row ${j}`));
      const kept = [...act.keys()].find((j) => !picked.includes(j)) as number;
      assert.ok((w[kept] as number[]).some((v) => v !== 0), `${n} row ${kept} kept`);
    }
    const d = rows(down);
    d.forEach((r) => picked.forEach((j) => assert.equal(r[j], 0)));
    assert.ok(rows('model.layers.0.mlp.gate_proj').every((r) => r.some((v) => v !== 0)), 'other blocks untouched');
    model.dispose();
  } finally {
    cleanup();
  }
});
