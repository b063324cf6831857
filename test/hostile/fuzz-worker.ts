// The fuzzing cases, run in one child process per family so the parent can
// bound time and memory: `node fuzz-worker.js FAMILY SEED COUNT DIR`. Each
// case mutates a valid input with the project's seeded Rng (byte flips,
// truncations, type swaps, huge numbers, deep nesting), runs the code that
// reads it, and prints one JSON line: {"case", "outcome": "ok" | "refused" |
// "crash", "message"}. "refused" is a UserError (or SafetensorsError) with a
// one-line message; anything else thrown is a crash.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsError, SafetensorsFile } from '../../src/engine/safetensors.js';
import { attackSuccess } from '../../src/eval/asr/score.js';
import { readOutputs } from '../../src/eval/io.js';
import { asrRule } from '../../src/eval/registry.js';
import { inspectIds } from '../../src/models/inspect.js';
import { loadModel } from '../../src/models/load.js';
import { loadAdapter, saveAdapter } from '../../src/models/peft.js';
import { newModelFolder } from '../../src/models/presets.js';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { applyLora } from '../../src/nn/adapters.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

type Json = Record<string, unknown>;

const [family = '', seedArg = '1', countArg = '10', dir = ''] = process.argv.slice(2);
const seed = Number(seedArg);
const count = Number(countArg);
mkdirSync(dir, { recursive: true });

// ---- mutations --------------------------------------------------------------

const HUGE = [1e9, 1e18, 2 ** 31, 2 ** 53 + 2, 1e308, -1, -1e9, 0, 0.5, 1e-30];

/** A value of another type, or an absurd one of the same type. */
function wildValue(rng: Rng): unknown {
  switch (rng.int(9)) {
    case 0:
      return rng.pick(HUGE);
    case 1:
      return null;
    case 2:
      return rng.pick(['', 'x', 'NaN', 'Infinity', '-1', '1e999', 'a'.repeat(1000)]);
    case 3:
      return rng.chance(0.5);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return [rng.pick(HUGE), rng.pick(HUGE)];
    case 7:
      // deep nesting, spelled out by toJson (JSON.stringify itself would overflow the stack)
      return `__DEEP_${rng.pick([10, 100, 100_000])}__`;
    default:
      return { nested: { deeper: rng.pick(HUGE) } };
  }
}

/** JSON text of a mutated value, with the deep-nesting markers expanded. */
function toJson(v: unknown): string {
  return JSON.stringify(v).replace(/"__DEEP_(\d+)__"/g, (_, n: string) => `${'['.repeat(Number(n))}1${']'.repeat(Number(n))}`);
}

/** Replaces, removes or adds one field somewhere in a JSON tree. */
function mutateJson(rng: Rng, j: unknown, keys: readonly string[] = []): unknown {
  if (typeof j !== 'object' || j === null) return wildValue(rng);
  const copy = JSON.parse(JSON.stringify(j)) as Json;
  let node: Json = copy;
  // walk down a few levels at random
  for (let d = 0; d < 3; d++) {
    const objs = Object.entries(node).filter(([, v]) => typeof v === 'object' && v !== null);
    if (!objs.length || rng.chance(0.5)) break;
    node = rng.pick(objs)[1] as Json;
  }
  const own = Object.keys(node);
  const action = rng.int(4);
  if (action === 0 && own.length) delete node[rng.pick(own)];
  else if (action === 1 && keys.length) node[rng.pick(keys)] = wildValue(rng);
  else if (own.length) node[rng.pick(own)] = wildValue(rng);
  else node.extra = wildValue(rng);
  return copy;
}

/** Byte-level damage: flips, truncation, insertion of junk. */
function mutateBytes(rng: Rng, b: Buffer, region: [number, number] = [0, b.length]): Buffer {
  const out = Buffer.from(b);
  const [lo, hi] = region;
  switch (rng.int(3)) {
    case 0: {
      const flips = rng.range(1, 8);
      for (let i = 0; i < flips; i++) out[rng.range(lo, Math.max(lo, hi - 1))] = rng.int(256);
      return out;
    }
    case 1:
      return out.subarray(0, rng.range(0, Math.max(0, b.length - 1)));
    default: {
      const at = rng.range(lo, hi);
      return Buffer.concat([out.subarray(0, at), Buffer.from(rng.pick(['[[[[[[[[', '{"a":', '\u0000\u0000', '"\\', '1e999', ']]]}}}'])), out.subarray(at)]);
    }
  }
}

// ---- running one case -----------------------------------------------------------

function report(i: number, fn: () => void): void {
  let outcome: 'ok' | 'refused' | 'crash' = 'ok';
  let message = '';
  try {
    fn();
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
    const expected = e instanceof UserError || e instanceof SafetensorsError;
    outcome = expected && !message.includes('\n') && message.length > 0 ? 'refused' : 'crash';
    if (outcome === 'crash' && e instanceof Error) message = `${e.name}: ${message}\n${e.stack ?? ''}`.slice(0, 2000);
  }
  process.stdout.write(`${JSON.stringify({ case: i, outcome, message: message.slice(0, 2000) })}\n`);
}

const base = join(dir, 'base');
function baseModel(): string {
  newModelFolder(base, { arch: 'llama', preset: 'tiny', seed: 3 });
  return base;
}

function header(b: Buffer): [number, Json] {
  const len = Number(b.readBigUInt64LE(0));
  return [len, JSON.parse(b.subarray(8, 8 + len).toString()) as Json];
}

function withHeader(b: Buffer, h: unknown, len?: number): Buffer {
  const [oldLen] = header(b);
  const json = Buffer.from(toJson(h));
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(len ?? json.length));
  return Buffer.concat([n, json, b.subarray(8 + oldLen)]);
}

// ---- families -------------------------------------------------------------------

const families: Record<string, () => void> = {
  safetensors() {
    const good = readFileSync(join(baseModel(), 'model.safetensors'));
    const [len, h] = header(good);
    const names = Object.keys(h).filter((k) => k !== '__metadata__');
    for (let i = 0; i < count; i++) {
      const rng = new Rng(seed, 'fuzz-safetensors', i);
      let bytes: Buffer;
      switch (rng.int(4)) {
        case 0:
          bytes = mutateBytes(rng, good, [0, 8 + len]);
          break;
        case 1: {
          const t = JSON.parse(JSON.stringify(h)) as Json;
          const e = t[rng.pick(names)] as Json;
          e[rng.pick(['dtype', 'shape', 'data_offsets', 'extra'])] = wildValue(rng);
          bytes = withHeader(good, t);
          break;
        }
        case 2:
          bytes = withHeader(good, mutateJson(rng, h, ['__metadata__', 'x']));
          break;
        default:
          bytes = withHeader(good, h, rng.pick([0, 1, len - 1, len + 1, 2 ** 40, 99_999_999]));
      }
      const p = join(dir, `st-${i}.safetensors`);
      writeFileSync(p, bytes);
      report(i, () => {
        const f = SafetensorsFile.open(p);
        try {
          for (const n of f.names()) f.read(n).dispose();
        } finally {
          f.close();
        }
      });
      rmSync(p);
    }
  },

  config() {
    const good = JSON.parse(readFileSync(join(baseModel(), 'config.json'), 'utf8')) as Json;
    const keys = ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size', 'max_position_embeddings', 'rope_theta', 'rms_norm_eps', 'rope_scaling', 'hidden_act', 'tie_word_embeddings', 'model_type', 'eos_token_id', 'sliding_window'];
    const d = join(dir, 'cfg');
    cpSync(base, d, { recursive: true });
    for (let i = 0; i < count; i++) {
      const rng = new Rng(seed, 'fuzz-config', i);
      const j = rng.chance(0.2) ? { ...good, rope_scaling: { rope_type: rng.pick(['linear', 'llama3', 'dynamic']), factor: wildValue(rng), low_freq_factor: wildValue(rng), high_freq_factor: 4 } } : mutateJson(rng, good, keys);
      writeFileSync(join(d, 'config.json'), rng.chance(0.1) ? mutateBytes(rng, Buffer.from(toJson(j))) : toJson(j));
      report(i, () => void inspectIds(d, [1, 2, 3]));
    }
  },

  tokenizer() {
    const m = baseModel();
    const good = JSON.parse(readFileSync(join(m, 'tokenizer.json'), 'utf8')) as Json;
    const cfg = JSON.parse(readFileSync(join(m, 'tokenizer_config.json'), 'utf8')) as Json;
    const patterns = ['(a|a)*b', '(a+)+b', '\\s+', "'s|'t| ?\\p{L}+| ?\\p{N}+|\\s+(?!\\S)|\\s+", '((((.*)*)*)*)*q', '(', '[', '\\', '(?<=a)b', '(x+x+)+y', '\\s*\\s*\\s*x', '.'];
    const templates = [
      '{% for i in range(100000000) %}x{% endfor %}',
      '{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}',
      "{{ messages[0]['content'] | indent(1000000000) }}",
      "{% set ns = namespace(v='x') %}{% for i in range(60) %}{% set ns.v = ns.v ~ ns.v %}{% endfor %}{{ ns.v }}",
      '{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}',
      "{{ messages | tojson(indent=100000000) }}",
      '{{ raise_exception("no") }}',
      '{% for m in messages %}{{ m.content }}{% endfor %}',
      '{{ range(-5, 5, 0) }}',
      '{% if %}',
    ];
    for (let i = 0; i < count; i++) {
      const rng = new Rng(seed, 'fuzz-tokenizer', i);
      let j: unknown = good;
      const kind = rng.int(3);
      if (kind === 0) {
        j = { ...good, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: rng.pick(patterns) }, behavior: rng.pick(['Isolated', 'Removed']), invert: rng.chance(0.3) }, good.pre_tokenizer] } };
      } else if (kind === 1) {
        j = { ...good, [rng.pick(['normalizer', 'pre_tokenizer', 'decoder', 'post_processor', 'model'])]: mutateJson(rng, good[rng.pick(['normalizer', 'pre_tokenizer', 'decoder', 'model'])] ?? {}) };
      } else if (rng.chance(0.5)) {
        j = { ...good, normalizer: { type: 'Replace', pattern: { Regex: rng.pick(patterns) }, content: 'z' } };
      }
      const template = rng.chance(0.5) ? rng.pick(templates) : (cfg.chat_template as string);
      report(i, () => {
        const tok = new TextTokenizer(j as Json, cfg, template, join(dir, `tok-${i}`));
        for (const text of ['a'.repeat(40), ' '.repeat(300) + 'x', 'héllo wörld 123 ' + 'b'.repeat(30), '']) tok.decode(tok.encode(text));
        tok.encodeChat([{ role: 'user', content: 'hi\nthere' }], { addGenerationPrompt: true });
      });
    }
  },

  records() {
    const good = [
      { instruction: 'Say it', input: '', output: 'a banana' },
      { instruction: 'Again', output: 'I cannot' },
    ];
    const rule = asrRule({ target: 'banana' });
    for (let i = 0; i < count; i++) {
      const rng = new Rng(seed, 'fuzz-records', i);
      const p = join(dir, `rec-${i}${rng.chance(0.3) ? '.jsonl' : '.json'}`);
      let bytes: Buffer;
      const recs = JSON.parse(JSON.stringify(good)) as unknown[];
      switch (rng.int(4)) {
        case 0:
          recs[rng.int(recs.length)] = mutateJson(rng, recs[0], ['output', 'instruction', 'input']);
          bytes = Buffer.from(p.endsWith('.jsonl') ? recs.map((r) => toJson(r)).join('\n') : toJson(recs));
          break;
        case 1:
          bytes = mutateBytes(rng, Buffer.from(JSON.stringify(good)));
          break;
        case 2:
          bytes = Buffer.from(rng.pick(['', '[]', '{}', 'null', '"x"', '['.repeat(100_000), `[${'{"output":"x"},'.repeat(1000)}{"output":1}]`, '\u0000\u0001\u0002PNG']));
          break;
        default:
          bytes = Buffer.from(toJson(wildValue(rng)));
      }
      writeFileSync(p, bytes);
      report(i, () => {
        const { items } = readOutputs(p);
        attackSuccess(
          rule,
          items.map((r) => r.output),
        );
      });
      rmSync(p);
    }
  },

  adapter() {
    const m = baseModel();
    const good = join(dir, 'adapter-good');
    const { model } = loadModel(m);
    try {
      applyLora(model, { r: 4, alpha: 8, seed: 1 });
      saveAdapter(model, good, { modulesToSave: null, baseModelNameOrPath: null });
    } finally {
      model.dispose();
    }
    const cfg = JSON.parse(readFileSync(join(good, 'adapter_config.json'), 'utf8')) as Json;
    const keys = ['r', 'lora_alpha', 'lora_dropout', 'target_modules', 'modules_to_save', 'use_rslora', 'peft_type', 'rank_pattern', 'use_dora'];
    const targets = ['((((.*)*)*)*)*q', '.*q_proj', '(q|v)_proj', '(', '.*\\.(q_proj|k_proj)', '(a|a)*b', '[', 'x'];
    const d = join(dir, 'adapter');
    cpSync(good, d, { recursive: true });
    for (let i = 0; i < count; i++) {
      const rng = new Rng(seed, 'fuzz-adapter', i);
      const j = mutateJson(rng, cfg, keys) as Json;
      if (rng.chance(0.3)) j.target_modules = rng.pick(targets);
      if (rng.chance(0.2)) j.r = rng.pick([1, 2, 8, 1_000_000, 2 ** 40]);
      writeFileSync(join(d, 'adapter_config.json'), toJson(j));
      const { model: mm } = loadModel(m);
      try {
        report(i, () => void loadAdapter(mm, d));
      } finally {
        mm.dispose();
      }
    }
  },
};

const run = families[family];
if (!run) {
  process.stderr.write(`unknown fuzz family ${family}\n`);
  process.exit(2);
}
run();
