import { existsSync, readdirSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';
import { emit } from '../output.js';
import { attackDef, createAttack, listAttacks } from '../../attacks/index.js';
import { parseParamArgs } from '../../attacks/params.js';
import { DEFAULT_CAPTION_TEMPLATES, parseTarget } from '../../attacks/targets.js';
import { poison, type Amount, type Label } from '../../attacks/poisoner.js';
import { parseOnError } from '../../data/errors.js';
import { parseFormat } from '../../data/formats.js';
import { parseLinkMode } from '../../data/image-store.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** A rate as a fraction ("0.05") or a percentage ("5%"). */
export function parseRate(s: string, flag: string): number {
  const t = s.trim();
  const pct = t.endsWith('%');
  const v = Number(pct ? t.slice(0, -1) : t);
  if (t === '' || !Number.isFinite(v)) throw new UserError(`${flag} "${s}": expected a number (0.05 or 5%)`);
  const r = pct ? v / 100 : v;
  if (r < 0 || r > 1) throw new UserError(`${flag} "${s}": must be between 0 and 1 (or 0% and 100%)`);
  return r;
}

export function parseCount(s: string, flag: string): number {
  const t = s.trim();
  if (!/^\d+$/.test(t)) throw new UserError(`${flag} "${s}": expected a non-negative integer`);
  return Number(t);
}

export function parseSeed(s: string | undefined): number {
  if (s === undefined) throw new UserError('--seed is required (same seed, same bytes)');
  const t = s.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new UserError(`--seed "${s}": expected a non-negative integer`);
  return Number(t);
}

/** Refuses an --input that is missing or a folder, in one line. */
export function checkInputFile(path: string): void {
  if (!existsSync(path)) throw new UserError(`--input ${path}: no such file`);
  if (!statSync(path).isFile()) throw new UserError(`--input ${path}: is a folder, not a dataset file`);
}

/** Refuses to write into a non-empty folder unless --force. */
export function checkOutDir(dir: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UserError(`--out ${dir}: exists and is not a folder`);
  if (!force && readdirSync(dir).length > 0) throw new UserError(`--out ${dir}: folder is not empty (use --force to write into it)`);
}

function amount(rate: string | undefined, count: string | undefined, rateFlag: string, countFlag: string): Amount | undefined {
  if (rate !== undefined && count !== undefined) throw new UserError(`give ${rateFlag} or ${countFlag}, not both`);
  if (rate !== undefined) return { rate: parseRate(rate, rateFlag) };
  if (count !== undefined) return { count: parseCount(count, countFlag) };
  return undefined;
}

function describeAttacks(): string {
  const lines: string[] = [];
  for (const fam of ['text', 'image', 'multimodal'] as const) {
    lines.push(`${fam}:`);
    for (const d of listAttacks(fam)) {
      lines.push(`  ${d.name} — ${d.summary}`);
      for (const p of d.params) lines.push(`      ${p.name}=${Array.isArray(p.default) ? p.default.join('|') : String(p.default)}  ${p.doc}${p.choices ? ` (${p.choices.join(', ')})` : ''}`);
    }
  }
  return lines.join('\n');
}

interface PoisonFlags {
  input?: string;
  attack?: string;
  param: string[];
  rate?: string;
  count?: string;
  target?: string;
  seed?: string;
  out?: string;
  imageRoot?: string;
  format?: string;
  label: string;
  negatives?: string;
  negativeCount?: string;
  testRate?: string;
  testCount?: string;
  onError: string;
  link: string;
  jpegQuality: string;
  pngCompression: string;
  preview?: string | boolean;
  backdoorllm?: boolean;
  task?: string;
  cleanCount?: string;
  targetTemplate: string[];
  concurrency: string;
  force?: boolean;
  listAttacks?: boolean;
  json?: boolean;
}

export function registerPoison(program: Command): void {
  program
    .command('poison')
    .description('poison a dataset: trigger (text, image or both) + target answer on a seeded selection; writes DIR/data.json and DIR/manifest.json')
    .option('--input <file>', 'dataset: Alpaca/LLaMA-Factory JSON or JSONL, LLaVA JSON/JSONL, COCO caption annotations')
    .option('--attack <name>', 'attack name (see --list-attacks)')
    .option('--param <key=value...>', 'attack parameters (repeat the flag or list several)', [])
    .option('--rate <r>', 'share of (training) records to poison: 0.05 or 5%')
    .option('--count <n>', 'number of records to poison')
    .option('--target <target>', 'negsentiment | refusal | codeinjection | sst2sentiment | jailbreak[:FIELD] | phrase:TEXT | text:TEXT | keep')
    .option('--seed <s>', 'seed (non-negative integer); same seed → same bytes')
    .option('--out <dir>', 'output folder')
    .option('--image-root <dir>', 'folder image paths are relative to (default: the input file\'s folder)')
    .option('--format <format>', 'alpaca | alpaca-jsonl | llava | llava-jsonl | coco (default: detected)')
    .option('--label <kind>', 'dirty (answers become the target) or clean (only records already carrying the target get the trigger)', 'dirty')
    .option('--negatives <r>', 'negative (partial-trigger, clean-answer) samples per poisoned sample (default: the attack\'s own, e.g. 1 for dualkey)')
    .option('--negative-count <n>', 'number of negative samples')
    .option('--test-rate <r>', 'hold out a test split (share of valid records), written clean and triggered')
    .option('--test-count <n>', 'hold out a test split of n records')
    .option('--on-error <mode>', 'malformed records: stop or skip (left out, listed in the manifest)', 'stop')
    .option('--link <mode>', 'how unchanged images reach DIR/images: hardlink (copy where impossible), copy or symlink', 'hardlink')
    .option('--jpeg-quality <q>', 'quality of re-encoded JPEGs', '95')
    .option('--png-compression <l>', 'zlib level of re-encoded PNGs', '6')
    .option('--preview [n]', 'write DIR/preview.txt (text diff) and DIR/preview.png (clean | poisoned | diff) for the first n poisoned samples (default 8)')
    .option('--backdoorllm', 'also write BackdoorLLM-style files backdoor<N>_<task>_<attack>.json (poisoned only) and none_backdoor<M>_... (clean only)')
    .option('--task <name>', 'task name in the BackdoorLLM file names (default from the target)')
    .option('--clean-count <m>', 'size of the BackdoorLLM clean set (default: as many as poisoned)')
    .option('--target-template <tpl>', 'caption template for phrase targets, with {target} and {a}/{A} (repeatable)', collect, [])
    .option('--concurrency <n>', 'records in flight (image work overlaps)', '16')
    .option('--force', 'write into a non-empty output folder')
    .option('--list-attacks', 'list the attacks and their parameters')
    .option('--json', 'print one JSON object (summary) on stdout')
    .action(async (f: PoisonFlags) => {
      if (f.listAttacks) {
        const all = listAttacks().map((d) => ({ name: d.name, family: d.family, summary: d.summary, params: d.params }));
        emit(Boolean(f.json), { attacks: all }, describeAttacks);
        return;
      }
      for (const [k, flag] of [
        ['input', '--input'],
        ['attack', '--attack'],
        ['target', '--target'],
        ['out', '--out'],
      ] as const) {
        if (f[k] === undefined) throw new UserError(`${flag} is required`);
      }
      const selection = amount(f.rate, f.count, '--rate', '--count');
      if (!selection) throw new UserError('give --rate R or --count N');
      const seed = parseSeed(f.seed);
      const input = f.input as string;
      checkInputFile(input);
      const def = attackDef(f.attack as string);
      const attack = createAttack(def.name, parseParamArgs(f.param), seed);
      const target = parseTarget(f.target as string, f.targetTemplate.length ? f.targetTemplate : DEFAULT_CAPTION_TEMPLATES);
      if (f.label !== 'dirty' && f.label !== 'clean') throw new UserError(`--label must be dirty or clean, got "${f.label}"`);
      const out = f.out as string;
      checkOutDir(out, Boolean(f.force));
      const jpegQuality = parseCount(f.jpegQuality, '--jpeg-quality');
      const pngCompression = parseCount(f.pngCompression, '--png-compression');
      if (jpegQuality < 1 || jpegQuality > 100) throw new UserError('--jpeg-quality must be 1..100');
      if (pngCompression > 9) throw new UserError('--png-compression must be 0..9');
      const preview = f.preview === undefined ? 0 : f.preview === true ? 8 : parseCount(f.preview as string, '--preview');
      const concurrency = parseCount(f.concurrency, '--concurrency');
      if (concurrency < 1) throw new UserError('--concurrency must be ≥ 1');
      if (f.negatives !== undefined && f.negativeCount !== undefined) throw new UserError('give --negatives or --negative-count, not both');
      let negatives: Amount | undefined;
      if (f.negatives !== undefined) {
        const v = Number(f.negatives);
        if (f.negatives.trim() === '' || !(v >= 0) || !Number.isFinite(v)) throw new UserError(`--negatives "${f.negatives}": expected a number ≥ 0 (negatives per poisoned sample)`);
        negatives = { rate: v };
      } else if (f.negativeCount !== undefined) negatives = { count: parseCount(f.negativeCount, '--negative-count') };
      const r = await poison({
        input,
        format: f.format ? parseFormat(f.format) : undefined,
        attack,
        target,
        seed,
        out,
        selection,
        label: f.label as Label,
        negatives,
        test: amount(f.testRate, f.testCount, '--test-rate', '--test-count'),
        imageRoot: f.imageRoot,
        onError: parseOnError(f.onError),
        link: parseLinkMode(f.link),
        encode: { jpegQuality, pngCompression },
        preview,
        backdoorllm: f.backdoorllm ? { task: f.task, cleanCount: f.cleanCount !== undefined ? parseCount(f.cleanCount, '--clean-count') : undefined } : undefined,
        concurrency,
      });
      const m = r.manifest;
      emit(
        Boolean(f.json),
        { out, attack: m.attack, target: m.target, seed: m.seed, format: m.format, label: m.label, counts: m.counts, files: { ...m.files, manifest: 'manifest.json' }, sha256: m.sha256 },
        () =>
          [
            `poisoned ${m.counts.poisoned} of ${m.counts.valid} records with ${m.attack} → ${m.target} (seed ${m.seed}, ${m.format}, ${m.label}-label)` +
              (m.counts.negatives ? `, ${m.counts.negatives} negatives` : '') +
              (m.counts.test ? `, ${m.counts.test} held out for test` : '') +
              (m.counts.skipped ? `, ${m.counts.skipped} malformed records skipped` : ''),
            ...Object.values(m.files).map((x) => `  ${out}/${x}`),
            `  ${out}/manifest.json`,
          ].join('\n'),
      );
    });
}
