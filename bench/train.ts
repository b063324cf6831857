// bench:train — LoRA fine-tuning and CROW steps of the `small` llama preset
// against PyTorch's Python API over the same libtorch, in one run:
//  (a) LoRA SFT step (forward, LM loss, backward, clipping, AdamW) tokens/s,
//      ours vs the same model and adapter in PyTorch (bench/train_ref.py);
//  (b) our CROW step (two forward passes, src/defenses/crow.ts) over our SFT step;
//  (c) our CROW step vs the published three-pass algorithm in PyTorch.
// Both sides load the same weights, the same adapter and the same batch, and
// alternate one step at a time (the Python side waits on stdin) so load from
// other processes hits both alike; each side's fastest step counts. The first
// (warm-up) losses of both sides are compared as a check that they compute
// the same thing. Last stdout line: one JSON object of figures.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as T from '../src/engine/index.js';
import { loadModel } from '../src/models/load.js';
import { saveAdapter } from '../src/models/peft.js';
import { newModelFolder } from '../src/models/presets.js';
import { applyLora } from '../src/nn/adapters.js';
import { applyFreeze } from '../src/nn/freeze.js';
import { crowObjective, DEFAULT_CROW } from '../src/defenses/crow.js';
import { IGNORE_INDEX, type Batch } from '../src/train/sft.js';
import { sftObjective, type Objective } from '../src/train/trainer.js';
import { round } from './common.js';

const BATCH = Number(process.env.BENCH_BATCH ?? 2);
const SEQ = Number(process.env.BENCH_SEQ ?? 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PROMPT = Math.floor(SEQ / 4);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The PyTorch side: a long-lived process answering one timed step per request. */
class PyTorchRef {
  private readonly lines: AsyncIterator<string>;
  private readonly proc;
  version = '';
  constructor(args: string[]) {
    this.proc = spawn(process.env.BENCH_PYTHON ?? '/usr/bin/python3', [join(root, 'bench', 'train_ref.py'), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  private async line(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error('the PyTorch reference exited early (see its stderr above; `bash scripts/setup.sh --bench` installs python3-torch)');
    return r.value;
  }
  async ready(): Promise<void> {
    const l = await this.line();
    if (!l.startsWith('ready')) throw new Error(`PyTorch reference: unexpected '${l}'`);
    this.version = l.slice('ready '.length).trim();
  }
  async step(cmd: 'sft' | 'crow'): Promise<{ seconds: number; loss: number }> {
    this.proc.stdin.write(`${cmd}\n`);
    const j = JSON.parse(await this.line()) as { seconds: number; loss: number; error?: string };
    if (j.error) throw new Error(`PyTorch reference: ${j.error}`);
    return j;
  }
  close(): void {
    this.proc.stdin.end('quit\n');
  }
}

/** A random batch with the first quarter of each row as the (masked) prompt. */
function makeBatch(vocab: number): { batch: Batch; tensors: Map<string, T.Tensor> } {
  const ids = T.keep(T.randint(4, vocab, [BATCH, SEQ], { seed: 0 }));
  const mask = T.keep(T.ones([BATCH, SEQ], { dtype: 'int64' }));
  const labels = T.keep(
    T.noGrad(() => {
      const l = ids.clone();
      T.scope(() => void l.narrow(1, 0, PROMPT).fill_(IGNORE_INDEX));
      return l;
    }),
  );
  const batch: Batch = { inputIds: ids, attentionMask: mask, labels, tokens: BATCH * (SEQ - PROMPT) };
  // PyTorch reads float32 (the reference's safetensors reader has no integer types); ids < 2^24 are exact
  const tensors = new Map([
    ['input_ids', ids.float()],
    ['attention_mask', mask.float()],
    ['labels', labels.float()],
  ]);
  return { batch, tensors };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-bench-train-'));
  let py: PyTorchRef | null = null;
  try {
    const modelDir = join(dir, 'model');
    const made = newModelFolder(modelDir, { arch: 'llama', preset: 'small', seed: 0 });
    const threads = T.getNumThreads();
    const { model } = loadModel(modelDir);
    model.requiresGrad_(false);
    applyLora(model, { r: 8, alpha: 16, seed: 1 });
    applyFreeze(model, 'adapters');
    const adapterDir = join(dir, 'adapter');
    T.noGrad(() => saveAdapter(model, adapterDir, { modulesToSave: null, baseModelNameOrPath: modelDir }));
    const { batch, tensors } = makeBatch(model.textConfig.vocabSize);
    T.saveSafetensors(join(dir, 'batch.safetensors'), tensors);
    for (const t of tensors.values()) t.dispose();
    const o = DEFAULT_CROW;
    console.error(
      `small llama preset: ${(made.parameters / 1e6).toFixed(1)}M parameters, LoRA r 8 on every decoder linear; ${threads} threads; ` +
        `batch ${BATCH}x${SEQ} (prompt ${PROMPT} masked); CROW ε ${o.epsilon} α ${o.alpha}; ${ROUNDS} rounds`,
    );
    py = new PyTorchRef([modelDir, adapterDir, join(dir, 'batch.safetensors'), String(threads), String(o.epsilon), String(o.alpha)]);

    // one optimiser step as the trainer takes it
    const params = model.trainableParameters();
    const opt = new T.optim.AdamW(params, { lr: 1e-3, weightDecay: 0 });
    model.train(true);
    const step = (objective: Objective): { seconds: number; loss: number } => {
      const t0 = performance.now();
      const loss = T.scope(() => {
        const r = objective(model, batch);
        r.loss.backward();
        return r.loss.item();
      });
      T.optim.clipGradNorm(params, 1);
      opt.step();
      opt.zeroGrad();
      return { seconds: (performance.now() - t0) / 1000, loss };
    };
    const crow = crowObjective(o);
    await py.ready();
    const libtorch = T.libtorchVersion();
    const release = (v: string): string => /^\d+\.\d+(\.\d+)?/.exec(v)?.[0] ?? v;
    const sameVersion = release(py.version) === release(libtorch);
    if (!sameVersion) console.error(`note: PyTorch-Python is ${py.version}, the engine's libtorch is ${libtorch}: the reference does not run the same libtorch`);

    // warm-up, in the same order on both sides from the same weights: the losses must agree
    const check = { sft: [step(sftObjective).loss, (await py.step('sft')).loss], crow: [step(crow).loss, (await py.step('crow')).loss] };
    for (const [k, [a, b]] of Object.entries(check) as Array<[string, [number, number]]>) {
      const rel = Math.abs(a - b) / Math.abs(b);
      console.error(`warm-up ${k} loss: ours ${a.toFixed(6)}, pytorch ${b.toFixed(6)} (relative difference ${rel.toExponential(2)})`);
      if (!(rel < 1e-3)) throw new Error(`the ${k} losses differ (${a} vs ${b}): the two sides do not compute the same step`);
    }
    const ours = { sft: [] as number[], crow: [] as number[] };
    const theirs = { sft: [] as number[], crow: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      ours.sft.push(step(sftObjective).seconds);
      theirs.sft.push((await py.step('sft')).seconds);
      ours.crow.push(step(crow).seconds);
      theirs.crow.push((await py.step('crow')).seconds);
      console.error(
        `round ${r + 1}: sft ours ${(ours.sft[r] as number).toFixed(3)} s, pytorch ${(theirs.sft[r] as number).toFixed(3)} s; ` +
          `crow ours ${(ours.crow[r] as number).toFixed(3)} s, pytorch (three passes) ${(theirs.crow[r] as number).toFixed(3)} s`,
      );
    }
    model.dispose();
    opt.dispose();
    const fastest = (xs: number[]): number => Math.min(...xs);
    const tokens = BATCH * SEQ;
    console.log(
      JSON.stringify({
        sft_vs_pytorch: round(fastest(theirs.sft) / fastest(ours.sft)),
        crow_step_over_sft_step: round(fastest(ours.crow) / fastest(ours.sft)),
        crow_vs_pytorch: round(fastest(theirs.crow) / fastest(ours.crow)),
        sft_tokens_per_s: round(tokens / fastest(ours.sft), 1),
        sft_tokens_per_s_pytorch: round(tokens / fastest(theirs.sft), 1),
        crow_tokens_per_s: round(tokens / fastest(ours.crow), 1),
        crow_tokens_per_s_pytorch: round(tokens / fastest(theirs.crow), 1),
        pytorch_crow_step_over_sft_step: round(fastest(theirs.crow) / fastest(theirs.sft)),
        libtorch,
        pytorch: py.version,
        same_libtorch: sameVersion,
        parameters: made.parameters,
        batch: BATCH,
        seq: SEQ,
        threads,
      }),
    );
  } finally {
    py?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
