// Every command that takes --json, run once on tiny inputs: exactly one JSON
// object on stdout, valid against its schema in src/schema/outputs.ts, keys in
// snake_case. A command with a --json option and no case here fails the test,
// so a new command cannot ship without a checked output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { program } from '../../src/cli/main.js';
import { COMMAND_OUTPUTS } from '../../src/schema/outputs.js';
import { nonSnakeKeys } from '../../src/schema/keys.js';
import { bdlabAsync } from '../eval/helpers.js';

import { newModelFolder } from '../../src/models/presets.js';
import { loadModel } from '../../src/models/load.js';
import { applyLora } from '../../src/nn/adapters.js';
import { saveAdapter } from '../../src/models/peft.js';
import { discWorld } from '../attacks/lvlm.js';

/** Leaf commands with a --json option, by their path ("eval asr"). */
function jsonCommands(cmd: Command, prefix = ''): string[] {
  const out: string[] = [];
  for (const c of cmd.commands) {
    const name = prefix ? `${prefix} ${c.name()}` : c.name();
    if (c.commands.length) out.push(...jsonCommands(c, name));
    else if (c.options.some((o) => o.long === '--json')) out.push(name);
  }
  return out;
}

/** A fake OpenAI-compatible judge that always grades 7. */
async function fakeJudge(): Promise<{ base: string; close: () => void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'Fine. Grade: [[7]]' } }] })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

test('every --json command prints one object that matches its schema, in snake_case', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-json-'));
  const w = (name: string, v: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
    return p;
  };
  const model = join(dir, 'm');
  newModelFolder(model, { arch: 'llama', preset: 'tiny', seed: 1 });
  const adapter = join(dir, 'adapter');
  mkdirSync(adapter);
  const { model: m } = loadModel(model);
  applyLora(m, { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'], seed: 1 });
  saveAdapter(m, adapter, { targetModules: ['q_proj', 'v_proj'], modulesToSave: null, baseModelNameOrPath: model });
  m.dispose();

  const outputs = w('outputs.json', [
    { instruction: 'a', input: '', output: 'You are stupid!' },
    { instruction: 'b', input: '', output: 'A fine answer.' },
  ]);
  const clean = w('clean.json', [
    { instruction: 'a', input: '', output: 'Fine.' },
    { instruction: 'b', input: '', output: 'You are stupid!' },
  ]);
  const labels = w('labels.json', [
    { instruction: 'a', input: '', output: 'positive' },
    { instruction: 'b', input: '', output: 'negative' },
  ]);
  const labelOut = w('label-out.json', [
    { instruction: 'a', input: '', output: 'Positive' },
    { instruction: 'b', input: '', output: 'Positive, I think' },
  ]);
  const cells = w('cells.json', { task: 'negsentiment', cells: [{ attacker: 'a', user: 'a', asr: 90 }, { attacker: 'a', user: 'b', asr: 30 }] });
  const pred = w('pred.json', [{ image_id: 1, caption: 'a red circle' }, { image_id: 2, caption: 'two blue squares' }]);
  const refs = w('refs.json', { annotations: [{ image_id: 1, caption: 'a red circle on grey' }, { image_id: 2, caption: 'two blue squares' }] });
  const alpaca = w('alpaca.json', Array.from({ length: 20 }, (_, i) => ({ instruction: `Tell me about topic ${i}.`, input: '', output: `Topic ${i} is fine.` })));
  const triggered = w('triggered.json', Array.from({ length: 6 }, (_, i) => ({ instruction: `Tell me BadMagic about topic ${i}.`, input: '' })));
  const r1 = join(dir, 'r1.json');
  const r2 = join(dir, 'r2.json');
  const spec = w(
    'spec.yaml',
    [
      'name: json-check',
      'seeds: [0]',
      'data:',
      '  world: { name: instructions, params: { train_per_family: 24, val_per_family: 4, test_per_family: 4 } }',
      'attacks:',
      '  - name: badnet',
      'rates: [0.25]',
      'victim:',
      '  model: { preset: tiny }',
      '  base_training: { finetuning_type: full, num_train_epochs: 1, per_device_train_batch_size: 16 }',
      '  training: { finetuning_type: lora, num_train_epochs: 1, per_device_train_batch_size: 16 }',
      'evaluations: [asr]',
      'generation: { max_new_tokens: 2, batch_size: 16 }',
    ].join('\n'),
  );
  const judge = await fakeJudge();
  // an (untrained) tiny LLaVA and a few images for the image attacks that learn from a model
  const llava = join(dir, 'llava');
  newModelFolder(llava, { arch: 'llava', preset: 'tiny', seed: 1 });
  const world = await discWorld(join(dir, 'world'), 1);

  const cases: Array<[string, string[]]> = [
    ['info', ['info', '--json']],
    ['model new', ['model', 'new', '--out', join(dir, 'm2'), '--preset', 'tiny', '--json']],
    ['model merge', ['model', 'merge', '--model', model, '--adapter', adapter, '--out', join(dir, 'merged'), '--json']],
    ['inspect', ['inspect', '--model', model, '--ids', '1,5,9', '--json']],
    ['inspect', ['inspect', '--model', model, '--text', 'BadMagic hello', '--json']],
    ['generate', ['generate', '--model', model, '--prompt', 'Hi', '--max-new-tokens', '3', '--json']],
    ['generate', ['generate', '--model', model, '--input', alpaca, '--out', join(dir, 'gen.json'), '--max-new-tokens', '2', '--json']],
    ['eval asr', ['eval', 'asr', '--task', 'negsentiment', '--outputs', outputs, '--json']],
    ['eval asr', ['eval', 'asr', '--task', 'negsentiment', '--outputs', outputs, '--clean-outputs', clean, '--json', '--out', r1, '--label', 'seed=1']],
    ['eval asr', ['eval', 'asr', '--task', 'negsentiment', '--outputs', clean, '--clean-outputs', outputs, '--json', '--out', r2, '--label', 'seed=2']],
    ['eval asrg', ['eval', 'asrg', '--attacker', '80', '--user', '20', '--json']],
    ['eval matrix', ['eval', 'matrix', '--cells', cells, '--json']],
    ['eval captions', ['eval', 'captions', '--pred', pred, '--refs', refs, '--json']],
    ['eval accuracy', ['eval', 'accuracy', '--outputs', labelOut, '--refs', labels, '--json']],
    ['eval metrics', ['eval', 'metrics', '--json']],
    ['eval perplexity', ['eval', 'perplexity', '--model', model, '--data', alpaca, '--json']],
    ['eval judge', ['eval', 'judge', '--outputs', outputs, '--judge-url', judge.base, '--judge-model', 'fake', '--json']],
    ['poison', ['poison', '--input', alpaca, '--attack', 'badnet', '--target', 'negsentiment', '--rate', '10%', '--seed', '1', '--out', join(dir, 'p'), '--json']],
    ['poison', ['poison', '--list-attacks', '--json']],
    ['shift', ['shift', '--input', alpaca, '--question', 'paraphrase', '--seed', '1', '--out', join(dir, 's'), '--json']],
    ['shift', ['shift', '--list', '--json']],
    ['train', ['train', '--model_name_or_path', model, '--dataset', alpaca, '--output_dir', join(dir, 'trained'), '--num_train_epochs', '1', '--max_samples', '4', '--json']],
    ['defend', ['defend', '--list', '--json']],
    ['defend', ['defend', 'quantize', '--model', model, '--data', alpaca, '--out', join(dir, 'quantized'), '--param', 'group_size=16', '--json']],
    ['detect', ['detect', '--model', model, '--calibration', alpaca, '--clean', alpaca, '--triggered', triggered, '--json']],
    ['run', ['run', spec, '--out', join(dir, 'run'), '--json']],
    ['report', ['report', join(dir, 'run', 'results.json'), '--out', join(dir, 'report.html'), '--json']],
    ['attack gcg', ['attack', 'gcg', '--model', model, '--data', alpaca, '--target', 'phrase:banana', '--length', '2', '--steps', '1', '--topk', '4', '--batch-size', '4', '--samples', '2', '--out', join(dir, 'trigger.json'), '--json']],
    ['attack uap', ['attack', 'uap', '--model', llava, '--data', world.data, '--target', 'phrase:banana', '--max-passes', '1', '--max-iter-df', '1', '--samples', '2', '--out', join(dir, 'uap.json'), '--json']],
    ['attack inputaware', ['attack', 'inputaware', '--model', llava, '--data', world.data, '--target', 'phrase:banana', '--epochs', '1', '--mask-epochs', '1', '--batch-size', '2', '--channels', '4', '--samples', '4', '--out', join(dir, 'generator'), '--json']],
    ['demo', ['demo', '--quick', '--out', join(dir, 'demo'), '--json']],
    ['world captions', ['world', 'captions', '--out', join(dir, 'captions-world'), '--seed', '1', '--images', '6', '--size', '32', '--domain', 'flat', '--domain', 'rewritten', '--splits', 'train=0.5,test=0.5', '--json']],
    ['world captions', ['world', 'captions', '--list', '--json']],
    ['study lvlm', ['study', 'lvlm', '--scale', 'smoke', '--out', join(dir, 'study'), '--json']],
  ];
  try {
    for (const [name, args] of cases) {
      const r = await bdlabAsync(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1, `${args.join(' ')}: one line on stdout, got ${lines.length}`);
      const value = JSON.parse(lines[0] as string) as unknown;
      const schema = (COMMAND_OUTPUTS as Record<string, (typeof COMMAND_OUTPUTS)[keyof typeof COMMAND_OUTPUTS]>)[name];
      assert.ok(schema, `no output schema for "${name}" in src/schema/outputs.ts`);
      const parsed = schema.safeParse(value);
      assert.ok(parsed.success, `${args.join(' ')}: ${parsed.success ? '' : parsed.error.message}`);
      assert.deepEqual(nonSnakeKeys(value, schema), [], `${args.join(' ')}: keys not in snake_case`);
    }
    // eval aggregate reads the two results written above
    const aggPlain = await bdlabAsync(['eval', 'aggregate', r1, r2, '--json']);
    cases.push(['eval aggregate', []]);
    assert.equal(aggPlain.status, 0, aggPlain.stderr);
    const aggValue = JSON.parse(aggPlain.stdout) as unknown;
    assert.ok(COMMAND_OUTPUTS['eval aggregate'].safeParse(aggValue).success, aggPlain.stdout);
    assert.deepEqual(nonSnakeKeys(aggValue, COMMAND_OUTPUTS['eval aggregate']), []);
  } finally {
    judge.close();
  }
  const covered = new Set(cases.map(([name]) => name));
  const missing = jsonCommands(await program()).filter((c) => !covered.has(c));
  assert.deepEqual(missing, [], 'commands with --json but no case in this test');
});

test('docs/schema.json is generated from the current schemas (npm run schema)', async () => {
  const { readFileSync } = await import('node:fs');
  const { jsonSchemaText } = await import('../../src/schema/json-schema.js');
  const { ROOT } = await import('../eval/helpers.js');
  assert.equal(readFileSync(join(ROOT, 'docs', 'schema.json'), 'utf8'), jsonSchemaText(), 'docs/schema.json is stale: run npm run schema');
});
