// CROW's objective against an independent float64 reference: the decoder of
// test/models/reference.ts (plain arrays, no engine), C(e) from the paper's
// definition, ∇_e C(e) by central finite differences, the FGSM step, C(e + δ),
// the LM loss and the total, to 1e-4 relative. Then the two-pass training
// gradient against the published three-pass algorithm written with the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/engine/index.js';
import { loadModel } from '../../src/models/load.js';
import type { CausalLM } from '../../src/models/llama.js';
import { applyLora, loraModules } from '../../src/nn/adapters.js';
import { crowTerms, inspectCrow, layerPairs, parseLayerSlice, DEFAULT_CROW, type CrowOptions } from '../../src/defenses/crow.js';
import { IGNORE_INDEX } from '../../src/train/sft.js';
import { baseConfig, randomLlama, tempDir, type Cfg } from '../models/fixtures.js';
import { readWeights, refDecoder, relErr, type RefConfig, type W } from '../models/reference.js';

const CFG: Cfg = baseConfig({ num_hidden_layers: 4 });
const PAD = 0;

// ---- the float64 reference --------------------------------------------------------

/** 1 − cos(a, b) with PyTorch's eps (1e-8 on each norm). */
function oneMinusCos(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return 1 - dot / (Math.max(Math.sqrt(na), 1e-8) * Math.max(Math.sqrt(nb), 1e-8));
}

interface Row {
  /** Embeddings of the positions the reference runs (a masked row: its real tokens only). */
  embeds: Float64Array[];
  /** How many leading positions count in C. */
  counted: number;
}

/** C over rows: Σ over pairs and counted tokens of 1 − cos, divided by pairs · counted tokens. */
function refC(w: Map<string, W>, rows: readonly Row[], pairs: ReadonlyArray<[number, number]>): number {
  let sum = 0;
  let n = 0;
  for (const r of rows) {
    const hidden = refDecoder(CFG as unknown as RefConfig, w, r.embeds.map(() => 0), { embeds: r.embeds }).hidden;
    for (const [l, m] of pairs) for (let t = 0; t < r.counted; t++) sum += oneMinusCos(hidden[l]?.[t] as number[], hidden[m]?.[t] as number[]);
    n += r.counted;
  }
  return sum / (n * pairs.length);
}

/** ∂C/∂e for every embedding entry, by central differences (float64, step 1e-5). */
function refGrad(w: Map<string, W>, rows: readonly Row[], pairs: ReadonlyArray<[number, number]>): Float64Array[][] {
  const h = 1e-5;
  return rows.map((r) =>
    r.embeds.map((vec) => {
      const g = new Float64Array(vec.length);
      for (let k = 0; k < vec.length; k++) {
        const v = vec[k] as number;
        vec[k] = v + h;
        const up = refC(w, rows, pairs);
        vec[k] = v - h;
        const down = refC(w, rows, pairs);
        vec[k] = v;
        g[k] = (up - down) / (2 * h);
      }
      return g;
    }),
  );
}

/** Mean next-token cross entropy over scored labels, each row run alone on its real tokens. */
function refLm(w: Map<string, W>, rows: ReadonlyArray<{ ids: number[]; labels: number[] }>): number {
  let sum = 0;
  let n = 0;
  for (const { ids, labels } of rows) {
    const logits = refDecoder(CFG as unknown as RefConfig, w, ids).logits;
    for (let t = 0; t + 1 < ids.length; t++) {
      const y = labels[t + 1] as number;
      if (y === IGNORE_INDEX) continue;
      const row = logits[t] as number[];
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      sum += lse - (row[y] as number);
      n++;
    }
  }
  return sum / n;
}

function embedRows(w: Map<string, W>, ids: readonly number[]): Float64Array[] {
  const E = w.get('model.embed_tokens.weight') as W;
  const d = CFG.hidden_size;
  return ids.map((id) => E.data.slice(id * d, (id + 1) * d));
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

// ---- the cases ------------------------------------------------------------------------

interface Case {
  rows: number[][];
  /** Prompt tokens per row (labels -100), the rest scored. */
  prompt: number[];
  padding: CrowOptions['padding'];
}

function batchOf(c: Case): { ids: T.Tensor; mask: T.Tensor; labels: T.Tensor; len: number } {
  const len = Math.max(...c.rows.map((r) => r.length));
  const ids = c.rows.map((r) => [...r, ...Array<number>(len - r.length).fill(PAD)]);
  const mask = c.rows.map((r) => r.map(() => 1).concat(Array<number>(len - r.length).fill(0)));
  const labels = c.rows.map((r, i) => r.map((v, t) => (t < (c.prompt[i] as number) ? IGNORE_INDEX : v)).concat(Array<number>(len - r.length).fill(IGNORE_INDEX)));
  return { ids: T.tensor(ids, { dtype: 'int64' }), mask: T.tensor(mask, { dtype: 'int64' }), labels: T.tensor(labels, { dtype: 'int64' }), len };
}

function checkAgainstReference(name: string, c: Case): void {
  test(name, () => {
    const { dir, cleanup } = tempDir('crow');
    try {
      randomLlama(dir, CFG, { seed: 3 });
      const w = readWeights(dir);
      const { model } = loadModel(dir);
      const o: CrowOptions = { ...DEFAULT_CROW, padding: c.padding };
      const pairs = layerPairs(o.layers, CFG.num_hidden_layers);
      assert.deepEqual(pairs, [[1, 2], [2, 3]], 'hidden_states[1:-2] vs [2:-1] on 4 layers');
      const got = T.enableGrad(() =>
        T.scope(() => {
          const b = batchOf(c);
          const t = crowTerms(model, { inputIds: b.ids, attentionMask: b.mask, labels: b.labels }, o, false);
          return {
            c: t.consistency.item(),
            grad: (t.gradient as T.Tensor).tolist() as number[][][],
            delta: (t.delta as T.Tensor).tolist() as number[][][],
            cp: t.perturbedConsistency.item(),
            lm: (t.lmLoss as T.Tensor).item(),
            loss: t.loss.item(),
            len: b.len,
          };
        }),
      );
      model.dispose();

      // the reference: masked rows are their real tokens alone; included rows run padded, without a mask
      const rows: Row[] = c.rows.map((r) => {
        const ids = c.padding === 'masked' ? r : [...r, ...Array<number>(got.len - r.length).fill(PAD)];
        return { embeds: embedRows(w, ids), counted: ids.length };
      });
      const cRef = refC(w, rows, pairs);
      assert.ok(rel(got.c, cRef) < 1e-4, `C(e) ${got.c} vs ${cRef}`);

      const gRef = refGrad(w, rows, pairs);
      const gOurs = gRef.map((r, i) => r.map((_, t) => got.grad[i]?.[t] as number[]));
      const eg = relErr(gOurs, gRef);
      assert.ok(eg < 1e-4, `∇_e C(e) relative error ${eg}`);
      if (c.padding === 'masked') {
        // padding neither attends nor counts: no gradient, no perturbation there
        c.rows.forEach((r, i) => {
          for (let t = r.length; t < got.len; t++) assert.ok((got.delta[i]?.[t] as number[]).every((v) => v === 0), `row ${i} pad ${t} untouched`);
        });
      }

      // FGSM: δ = ε · sign(∇); every entry whose gradient is not negligible has the reference's sign
      let gMax = 0;
      for (const r of gRef) for (const vec of r) for (const v of vec) gMax = Math.max(gMax, Math.abs(v));
      let checked = 0;
      rows.forEach((r, i) =>
        r.embeds.forEach((vec, t) =>
          vec.forEach((_, k) => {
            const g = gRef[i]?.[t]?.[k] as number;
            const d = got.delta[i]?.[t]?.[k] as number;
            if (Math.abs(g) > 1e-3 * gMax) {
              assert.equal(d, Math.fround(o.epsilon * Math.sign(g)), `δ[${i}][${t}][${k}]`);
              checked++;
            }
          }),
        ),
      );
      assert.ok(checked > 0.9 * rows.reduce((a, r) => a + r.embeds.length * CFG.hidden_size, 0), `${checked} signs checked`);
      const perturbedRows = rows.map((r, i) => ({
        embeds: r.embeds.map((vec, t) => vec.map((v, k) => v + o.epsilon * Math.sign(gRef[i]?.[t]?.[k] as number))),
        counted: r.counted,
      }));
      const cpRef = refC(w, perturbedRows, pairs);
      assert.ok(rel(got.cp, cpRef) < 1e-4, `C(e + δ) ${got.cp} vs ${cpRef}`);
      assert.ok(cpRef > cRef, 'the FGSM step raises C');

      const lmRef = refLm(
        w,
        c.rows.map((r, i) => ({ ids: r, labels: r.map((v, t) => (t < (c.prompt[i] as number) ? IGNORE_INDEX : v)) })),
      );
      assert.ok(rel(got.lm, lmRef) < 1e-4, `LM loss ${got.lm} vs ${lmRef}`);
      assert.ok(rel(got.loss, lmRef + o.alpha * cpRef) < 1e-4, `total ${got.loss} vs ${lmRef + o.alpha * cpRef}`);
    } finally {
      cleanup();
    }
  });
}

checkAgainstReference('one sequence: C(e), ∇_e C, δ, C(e + δ), LM loss and total match the float64 reference', {
  rows: [[1, 7, 33, 2, 59, 12, 5]],
  prompt: [3],
  padding: 'masked',
});
checkAgainstReference('a right-padded batch, padding masked: real tokens only, as each row alone', {
  rows: [[1, 7, 33, 2, 59, 12, 5], [1, 40, 21, 9]],
  prompt: [3, 2],
  padding: 'masked',
});
checkAgainstReference('a right-padded batch, padding included (the published code): pads attended and averaged in', {
  rows: [[1, 7, 33, 2, 59, 12, 5], [1, 40, 21, 9]],
  prompt: [3, 2],
  padding: 'included',
});

test('inspect --crow: loss is the mean next-token cross entropy over every position; C values match crowTerms', () => {
  const { dir, cleanup } = tempDir('crow-inspect');
  try {
    randomLlama(dir, CFG, { seed: 4 });
    const ids = [1, 7, 33, 2, 59, 12];
    const w = readWeights(dir);
    const { model } = loadModel(dir);
    const r = inspectCrow(model, ids, { epsilon: 0.05, layers: parseLayerSlice('1:-2') });
    model.dispose();
    const lmRef = refLm(w, [{ ids, labels: ids }]);
    assert.ok(rel(r.loss, lmRef) < 1e-4, `loss ${r.loss} vs ${lmRef}`);
    const pairs = layerPairs(parseLayerSlice('1:-2'), 4);
    const row = { embeds: embedRows(w, ids), counted: ids.length };
    assert.ok(rel(r.consistency, refC(w, [row], pairs)) < 1e-4);
    assert.equal(r.epsilon, 0.05);
    assert.deepEqual(r.pairs, [[1, 2], [2, 3]]);
    assert.ok(r.perturbed_consistency > r.consistency);
  } finally {
    cleanup();
  }
});

test('layer slices: published 1:-2, every pair 0:-1, and a clear error when none is left', () => {
  assert.deepEqual(layerPairs(parseLayerSlice('1:-2'), 5), [[1, 2], [2, 3], [3, 4]]);
  assert.deepEqual(layerPairs(parseLayerSlice('0:-1'), 2), [[0, 1], [1, 2]]);
  assert.deepEqual(layerPairs(parseLayerSlice('2:3'), 4), [[2, 3]]);
  assert.throws(() => layerPairs(parseLayerSlice('1:-2'), 2), /no pair.*3 or more layers/);
  assert.throws(() => parseLayerSlice('1-2'), /START:END/);
});

/**
 * The published algorithm (consistency_trainer.py) with the engine: three
 * passes, C(e).backward(retain_graph) then zero_grad, the perturbed pass
 * without a mask, the LM pass on input ids with the mask, total backward.
 */
function threePassGrads(model: CausalLM, ids: T.Tensor, mask: T.Tensor, labels: T.Tensor, o: CrowOptions, params: T.Tensor[], released = false): number[][] {
  return T.scope(() => {
    const pairs = layerPairs(o.layers, CFG.num_hidden_layers);
    const c = (hs: T.Tensor[]): T.Tensor => {
      const a = T.stack(pairs.map(([l]) => hs[l] as T.Tensor));
      const b = T.stack(pairs.map(([, m]) => hs[m] as T.Tensor));
      return T.cosineSimilarity(a, b, -1, 1e-8).neg().add(1).mean();
    };
    const e = model.embedTokens(ids).requiresGrad_(true);
    const c1 = c(model.forward({ inputsEmbeds: e, outputHiddenStates: true }).hiddenStates as T.Tensor[]);
    c1.backward(undefined, { retainGraph: true });
    const g = (e.grad as T.Tensor).detach().clone();
    for (const p of params) p.zeroGrad();
    // `released`: the published line's view of e.grad is zeroed before use, so δ = 0
    const delta = released ? g.mul(0) : g.sign().mul(o.epsilon);
    const cp = c(model.forward({ inputsEmbeds: e.add(delta), outputHiddenStates: true }).hiddenStates as T.Tensor[]);
    const logits = model.forward({ inputIds: ids, attentionMask: mask }).logits;
    const [b, t, v] = logits.shape as [number, number, number];
    const lm = T.crossEntropy(logits.narrow(1, 0, t - 1).reshape([-1, v]), labels.narrow(1, 1, t - 1).reshape([-1]), { ignoreIndex: IGNORE_INDEX });
    void b;
    lm.add(cp.mul(o.alpha)).backward();
    const out = params.map((p) => (p.grad as T.Tensor).flatten().tolist() as number[]);
    for (const p of params) p.zeroGrad();
    return out;
  });
}

test('the two-pass objective gives the published three-pass algorithm\'s parameter gradients (LoRA, padding included)', () => {
  const { dir, cleanup } = tempDir('crow-3pass');
  try {
    randomLlama(dir, CFG, { seed: 5 });
    const { model } = loadModel(dir);
    applyLora(model, { r: 4, alpha: 8, seed: 1 });
    T.noGrad(() => {
      let s = 10;
      for (const [p, l] of loraModules(model)) model.setParameter(`${p}.lora_B.weight`, T.randn(l.lora_B.weight.shape, { seed: s++ }).mul(0.1).requiresGrad_(true));
    });
    const params = model.trainableParameters();
    assert.equal(params.length, 2 * 7 * CFG.num_hidden_layers);
    const o: CrowOptions = { ...DEFAULT_CROW, padding: 'included' };
    const c: Case = { rows: [[1, 7, 33, 2, 59, 12, 5], [1, 40, 21, 9]], prompt: [3, 2], padding: 'included' };
    const ours = T.scope(() => {
      const b = batchOf(c);
      crowTerms(model, { inputIds: b.ids, attentionMask: b.mask, labels: b.labels }, o).loss.backward();
      const out = params.map((p) => (p.grad as T.Tensor).flatten().tolist() as number[]);
      for (const p of params) p.zeroGrad();
      return out;
    });
    const theirs = T.scope(() => {
      const b = batchOf(c);
      return threePassGrads(model, b.ids, b.mask, b.labels, o, params);
    });
    const e = relErr(ours, theirs);
    assert.ok(e < 1e-5, `parameter gradients differ: relative ${e}`);
    // ε = 0 gives what the released code computes (its perturbation is zeroed before use), in one pass
    const oursZero = T.scope(() => {
      const b = batchOf(c);
      const t = crowTerms(model, { inputIds: b.ids, attentionMask: b.mask, labels: b.labels }, { ...o, epsilon: 0 });
      assert.equal(t.perturbedConsistency.item(), t.consistency.item());
      t.loss.backward();
      const out = params.map((p) => (p.grad as T.Tensor).flatten().tolist() as number[]);
      for (const p of params) p.zeroGrad();
      return out;
    });
    const released = T.scope(() => {
      const b = batchOf(c);
      return threePassGrads(model, b.ids, b.mask, b.labels, o, params, true);
    });
    const e0 = relErr(oursZero, released);
    assert.ok(e0 < 1e-5, `ε = 0 vs the released code: relative ${e0}`);
    assert.ok(relErr(oursZero, theirs) > 1e-3, 'the FGSM step changes the gradients');
    model.dispose();
  } finally {
    cleanup();
  }
});
