// The resume guarantee: `bdlab train` killed with SIGKILL (after a seeded
// step past a checkpoint, or halfway through writing one) and resumed ends
// with the same bytes as an uninterrupted run — LoRA with dropout (so the
// random draws must line up too) and full fine-tuning; a resume with other settings is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/util/rng.js';
import { alpacaRecords, bdlab, tempDir, tinyModel, writeJson, type CliRun } from './helpers.js';

const TOTAL = 10;
const SAVE = 3;

function args(dir: string, out: string, extra: string[], o: { lr?: string; seed?: string } = {}): string[] {
  return [
    'train',
    '--model_name_or_path', tinyModel(),
    '--dataset', join(dir, 'data.json'),
    '--output_dir', out,
    '--max_steps', String(TOTAL),
    '--per_device_train_batch_size', '2',
    '--gradient_accumulation_steps', '2',
    '--learning_rate', o.lr ?? '5e-3',
    '--lr_scheduler_type', 'cosine',
    '--warmup_ratio', '0.2',
    '--save_steps', String(SAVE),
    // log lines every 2 steps, checkpoints every 3: a resumed line averages steps from both processes
    '--logging_steps', '2',
    '--group_by_length',
    '--seed', o.seed ?? '3',
    ...extra,
  ];
}

function killed(r: CliRun): void {
  assert.equal(r.signal, 'SIGKILL', `expected a SIGKILL, got status ${r.status}: ${r.stderr}`);
}

function losses(out: string): number[] {
  return readFileSync(join(out, 'trainer_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
}

for (const kind of ['lora', 'full'] as const) {
  test(`${kind}: killed with SIGKILL and resumed, training ends with the same bytes as an uninterrupted run`, () => {
    const dir = tempDir('resume');
    writeJson(join(dir, 'data.json'), alpacaRecords(14));
    const extra = kind === 'lora' ? ['--lora_dropout', '0.1', '--lora_rank', '4'] : ['--finetuning_type', 'full'];
    const weightsFile = kind === 'lora' ? 'adapter_model.safetensors' : 'model.safetensors';

    const ref = join(dir, 'ref');
    const a = bdlab(args(dir, ref, extra));
    assert.equal(a.status, 0, a.stderr);

    // killed after a seeded step past the first checkpoint, then resumed
    const step = new Rng(7, 'kill-step', kind).range(SAVE, TOTAL - 1);
    const out = join(dir, 'killed');
    killed(bdlab(args(dir, out, extra), { env: { BDLAB_TRAIN_FAULT: `after-step:${step}` } }));
    assert.ok(!existsSync(join(out, 'train_results.json')));
    assert.ok(existsSync(join(out, `checkpoint-${Math.floor(step / SAVE) * SAVE}`)));
    if (kind === 'lora') {
      const r = bdlab([...args(dir, out, extra, { lr: '1e-2', seed: '4' }), '--resume']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /checkpoint-\d+ was written with other settings \(learning_rate, seed\); resume with the same config or start over with --force\n$/);
    }
    const b = bdlab([...args(dir, out, extra), '--resume']);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stderr, new RegExp(`resuming from .*checkpoint-${Math.floor(step / SAVE) * SAVE} \\(step ${Math.floor(step / SAVE) * SAVE} of ${TOTAL}\\)`));
    assert.ok(readFileSync(join(out, weightsFile)).equals(readFileSync(join(ref, weightsFile))), `step ${step}: final weights differ`);
    assert.deepEqual(losses(out), losses(ref));

    if (kind === 'full') return;
    // killed while checkpoint 6 is half written: the folder never appears, resume takes checkpoint 3
    const out2 = join(dir, 'torn');
    killed(bdlab(args(dir, out2, extra), { env: { BDLAB_TRAIN_FAULT: 'in-checkpoint:6' } }));
    const names = readdirSync(out2);
    assert.ok(names.some((n) => n.startsWith('.checkpoint-6.tmp')), names.join(', '));
    assert.ok(!names.includes('checkpoint-6'));
    const c = bdlab([...args(dir, out2, extra), '--resume']);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stderr, /resuming from .*checkpoint-3 \(step 3 of 10\)/);
    assert.ok(readFileSync(join(out2, weightsFile)).equals(readFileSync(join(ref, weightsFile))), 'final weights differ after a torn checkpoint');
    assert.ok(!readdirSync(out2).some((n) => n.includes('.tmp')), 'the torn checkpoint was removed');
  });
}
