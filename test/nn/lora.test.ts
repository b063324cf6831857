// LoRA: a fresh adapter changes nothing, adapters save in PEFT's layout and
// key names and load back, merging keeps outputs, and freeze policies select
// the right parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, scope, SafetensorsFile, tensor, type Tensor } from '../../src/engine/index.js';
import { applyFreeze, applyLora, DECODER_LINEARS, defaultTargetModules, loraModules, matchesTarget, mergeLora } from '../../src/nn/index.js';
import { loadModel } from '../../src/models/load.js';
import { loadAdapter, saveAdapter } from '../../src/models/peft.js';
import { newModelFolder } from '../../src/models/presets.js';
import { baseConfig, randomLlama, tempDir } from '../models/fixtures.js';

const ATTN = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];
const MLP = ['gate_proj', 'up_proj', 'down_proj'];

/** The seven projections of each decoder block, as module paths under `prefix`. */
function decoderLinears(prefix: string, layers: number): string[] {
  const out: string[] = [];
  for (let l = 0; l < layers; l++) {
    for (const n of ATTN) out.push(`${prefix}layers.${l}.self_attn.${n}`);
    for (const n of MLP) out.push(`${prefix}layers.${l}.mlp.${n}`);
  }
  return out.sort();
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

const IDS = [[1, 4, 9, 16, 25, 36]];

function logits(m: { forward(i: { inputIds: Tensor }): { logits: Tensor } }): Float32Array {
  return noGrad(() => scope(() => m.forward({ inputIds: tensor(IDS, { dtype: 'int64' }) }).logits.toArray() as Float32Array));
}

test('a fresh adapter leaves outputs unchanged; training it changes them', () => {
  const t = tempDir('lora-fresh');
  try {
    randomLlama(t.dir, baseConfig());
    const { model } = loadModel(t.dir);
    const before = logits(model);
    const names = applyLora(model, { r: 4, alpha: 8, targetModules: DECODER_LINEARS, seed: 1 });
    assert.equal(names.length, 3 * 7);
    assert.deepEqual(logits(model), before);
    // perturb B: outputs move
    noGrad(() => (loraModules(model)[0] as [string, { lora_B: { weight: Tensor } }])[1].lora_B.weight.fill_(0.05));
    assert.notDeepEqual(logits(model), before);
    model.dispose();
  } finally {
    t.cleanup();
  }
});

test('saved adapters use PEFT layout and key names and load back exactly', () => {
  const t = tempDir('lora-peft');
  const ad = tempDir('lora-adapter');
  try {
    randomLlama(t.dir, baseConfig());
    const { model } = loadModel(t.dir);
    applyLora(model, { r: 4, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], seed: 2 });
    noGrad(() => {
      for (const [, l] of loraModules(model)) l.lora_B.weight.fill_(0.01);
    });
    const tuned = logits(model);
    saveAdapter(model, ad.dir, { targetModules: ['q_proj', 'v_proj'], modulesToSave: null, baseModelNameOrPath: t.dir });
    assert.ok(existsSync(join(ad.dir, 'adapter_config.json')));
    assert.ok(existsSync(join(ad.dir, 'adapter_model.safetensors')));
    const cfg = JSON.parse(readFileSync(join(ad.dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.peft_type, 'LORA');
    assert.equal(cfg.task_type, 'CAUSAL_LM');
    assert.equal(cfg.r, 4);
    assert.equal(cfg.lora_alpha, 16);
    assert.equal(cfg.lora_dropout, 0.05);
    assert.deepEqual(cfg.target_modules, ['q_proj', 'v_proj']);
    const f = SafetensorsFile.open(join(ad.dir, 'adapter_model.safetensors'));
    const keys = f.names().sort();
    assert.equal(keys.length, 3 * 2 * 2);
    assert.ok(keys.includes('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
    assert.ok(keys.includes('base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight'));
    assert.deepEqual(f.entries.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape, [4, 32]);
    assert.deepEqual(f.entries.get('base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight')?.shape, [16, 4]);
    assert.ok(keys.every((k) => /^base_model\.model\.model\.layers\.\d\.self_attn\.[qv]_proj\.lora_[AB]\.weight$/.test(k)));
    f.close();
    model.dispose();

    const fresh = loadModel(t.dir).model;
    loadAdapter(fresh, ad.dir);
    assert.deepEqual(logits(fresh), tuned);
    // merging folds the adapter in: same outputs, plain parameter names
    mergeLora(fresh);
    const merged = logits(fresh);
    merged.forEach((v, i) => assert.ok(Math.abs(v - (tuned[i] as number)) < 1e-5, `merged logit ${i}`));
    assert.ok([...fresh.namedParameters()].every(([n]) => !n.includes('lora_') && !n.includes('base_layer')));
    fresh.dispose();

    // an adapter of another rank does not fit
    const other = loadModel(t.dir).model;
    applyLora(other, { r: 2, alpha: 16, targetModules: ['q_proj', 'v_proj'] });
    assert.throws(() => loadAdapter(other, ad.dir), /lora_A\.weight' has shape \[4, 32\], the model needs \[2, 32\]/);
    other.dispose();
  } finally {
    t.cleanup();
    ad.cleanup();
  }
});

test('freeze policies: adapters only, projector only, full', () => {
  const t = tempDir('lora-freeze');
  try {
    newModelFolder(t.dir, { arch: 'llava', preset: 'tiny' });
    const { model } = loadModel(t.dir);
    assert.throws(() => applyFreeze(model, 'adapters'), /no trainable parameter/);
    const proj = applyFreeze(model, 'projector');
    assert.deepEqual(proj, [
      'multi_modal_projector.linear_1.weight',
      'multi_modal_projector.linear_1.bias',
      'multi_modal_projector.linear_2.weight',
      'multi_modal_projector.linear_2.bias',
    ]);
    assert.equal(model.trainableParameters().length, 4);
    // default LLaVA target: the language model's linears only, not CLIP's q/k/v
    const wrapped = applyLora(model, { r: 2, alpha: 4, targetModules: '.*language_model.*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)' });
    assert.ok(wrapped.every((n) => n.startsWith('language_model.')));
    assert.equal(wrapped.length, 2 * 7);
    const ad = applyFreeze(model, 'adapters');
    assert.equal(ad.length, 2 * 7 * 2);
    assert.ok(ad.every((n) => /lora_[AB]\.weight$/.test(n)));
    const all = applyFreeze(model, 'full');
    assert.equal(all.length, [...model.namedParameters()].length);
    model.dispose();
  } finally {
    t.cleanup();
  }
});

test('LoRA gradients flow to the adapter only under the adapters policy', () => {
  const t = tempDir('lora-grad');
  try {
    randomLlama(t.dir, baseConfig());
    const { model } = loadModel(t.dir);
    applyLora(model, { r: 4, alpha: 8, targetModules: DECODER_LINEARS });
    applyFreeze(model, 'adapters');
    scope(() => {
      const out = model.forward({ inputIds: tensor(IDS, { dtype: 'int64' }) });
      out.logits.pow(2).mean().backward();
    });
    for (const [n, p] of model.namedParameters()) {
      const g = p.grad;
      if (/lora_B/.test(n)) assert.ok(g && g.abs().sum().item() > 0, `${n} has a gradient`);
      if (!/lora_/.test(n)) assert.equal(g, null, `${n} is frozen`);
      g?.dispose();
    }
    model.dispose();
  } finally {
    t.cleanup();
  }
});

test('default target: exactly the seven projections of every decoder block (no lm_head, no embeddings); saved as PEFT expects', () => {
  const t = tempDir('lora-default');
  const ad = tempDir('lora-default-adapter');
  try {
    for (const tie of [false, true]) {
      randomLlama(t.dir, baseConfig({ tie_word_embeddings: tie }));
      const { model } = loadModel(t.dir);
      assert.deepEqual(defaultTargetModules(model), DECODER_LINEARS);
      const names = applyLora(model, { r: 4, alpha: 8, seed: 3 });
      assert.deepEqual([...names].sort(), decoderLinears('model.', 3), `tie_word_embeddings ${tie}`);
      assert.ok(!names.some((n) => n.includes('lm_head') || n.includes('embed')));
      model.dispose();
    }
    const { model } = loadModel(t.dir);
    applyLora(model, { r: 4, alpha: 8, seed: 3 });
    noGrad(() => {
      for (const [, l] of loraModules(model)) l.lora_B.weight.fill_(0.02);
    });
    const tuned = logits(model);
    // no target_modules given: the adapter records what it was applied with, PEFT's list of names
    saveAdapter(model, ad.dir, { modulesToSave: null, baseModelNameOrPath: t.dir });
    const cfg = readJson(join(ad.dir, 'adapter_config.json'));
    assert.deepEqual(cfg.target_modules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    const f = SafetensorsFile.open(join(ad.dir, 'adapter_model.safetensors'));
    assert.equal(f.names().length, 3 * 7 * 2);
    assert.ok(f.has('base_model.model.model.layers.2.mlp.down_proj.lora_B.weight'));
    f.close();
    // a target_modules that would put PEFT's adapters elsewhere is refused
    assert.throws(() => saveAdapter(model, ad.dir, { targetModules: ['q_proj', 'v_proj'], modulesToSave: null, baseModelNameOrPath: null }), /misses adapted modules: model\.layers\.0\.self_attn\.k_proj/);
    assert.throws(() => saveAdapter(model, ad.dir, { targetModules: [...DECODER_LINEARS, 'lm_head'], modulesToSave: null, baseModelNameOrPath: null }), /also selects modules without an adapter: lm_head$/);
    model.dispose();
    const fresh = loadModel(t.dir).model;
    loadAdapter(fresh, ad.dir);
    assert.deepEqual(loraModules(fresh).map(([p]) => p).sort(), decoderLinears('model.', 3));
    assert.deepEqual(logits(fresh), tuned);
    fresh.dispose();
  } finally {
    t.cleanup();
    ad.cleanup();
  }
});

test('default target on LLaVA: the language model\'s projections only, none of the CLIP tower or projector; PEFT selects the same under both key layouts', () => {
  const t = tempDir('lora-llava-default');
  const ad = tempDir('lora-llava-adapter');
  try {
    newModelFolder(t.dir, { arch: 'llava', preset: 'tiny' });
    const { model } = loadModel(t.dir);
    const target = defaultTargetModules(model);
    assert.equal(typeof target, 'string');
    const names = applyLora(model, { r: 2, alpha: 4 });
    assert.deepEqual([...names].sort(), decoderLinears('language_model.model.', 2));
    // the tower has q/k/v_proj of its own: none is wrapped
    const towerLinears = [...model.namedModules()].map(([p]) => p).filter((p) => p.startsWith('vision_tower.') && /\.(q|k|v)_proj$/.test(p));
    assert.ok(towerLinears.length > 0);
    assert.ok(names.every((n) => n.startsWith('language_model.model.layers.')));
    // PEFT's fullmatch of the recorded pattern on the module names Python sees
    const py = (layout: 'classic' | 'new', l: number, n: string): string =>
      layout === 'classic' ? `language_model.model.layers.${l}.${n}` : `model.language_model.layers.${l}.${n}`;
    for (const layout of ['classic', 'new'] as const) {
      assert.ok(matchesTarget(py(layout, 1, 'self_attn.o_proj'), target), layout);
      assert.ok(matchesTarget(py(layout, 0, 'mlp.gate_proj'), target), layout);
    }
    for (const other of [
      'vision_tower.vision_model.encoder.layers.0.self_attn.q_proj',
      'model.vision_tower.vision_model.encoder.layers.0.self_attn.k_proj',
      'multi_modal_projector.linear_1',
      'model.multi_modal_projector.linear_2',
      'language_model.lm_head',
      'lm_head',
      'language_model.model.embed_tokens',
    ]) {
      assert.ok(!matchesTarget(other, target), other);
    }
    saveAdapter(model, ad.dir, { modulesToSave: null, baseModelNameOrPath: t.dir });
    const cfg = readJson(join(ad.dir, 'adapter_config.json'));
    assert.equal(cfg.target_modules, target);
    assert.equal(cfg.target_modules, '.*language_model\\..*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)');
    // a list of names would also select the tower's q/k/v_proj in PEFT, so it is refused
    assert.throws(() => saveAdapter(model, ad.dir, { targetModules: DECODER_LINEARS, modulesToSave: null, baseModelNameOrPath: null }), /also selects modules without an adapter: vision_tower\./);
    model.dispose();
    const fresh = loadModel(t.dir).model;
    loadAdapter(fresh, ad.dir);
    assert.deepEqual(loraModules(fresh).map(([p]) => p).sort(), decoderLinears('language_model.model.', 2));
    fresh.dispose();
  } finally {
    t.cleanup();
    ad.cleanup();
  }
});
