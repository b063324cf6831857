import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';
import { emit } from '../output.js';
import { checkInputFile, checkOutDir, imageOutputOptions, parseAmount, parseImageOutput, parseKeyValues, parseNumber, parseCount, parsePreview, parseSeed, required, type ImageOutputFlags } from '../flags.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface PoisonFlags extends ImageOutputFlags {
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
  preview?: string | boolean;
  backdoorllm?: boolean;
  task?: string;
  cleanCount?: string;
  targetTemplate: string[];
  force?: boolean;
  listAttacks?: boolean;
  json?: boolean;
}

export function registerPoison(program: Command): void {
  const cmd = program
    .command('poison')
    .description('poison a dataset: trigger (text, image or both) + target answer on a seeded selection; writes DIR/data.json and DIR/manifest.json')
    .option('--input <file>', 'dataset: Alpaca/LLaMA-Factory JSON or JSONL, LLaVA JSON/JSONL, COCO caption annotations')
    .option('--attack <name>', 'attack name (see --list-attacks)')
    .option('--param <key=value...>', 'attack parameters (repeat the flag or list several)', [])
    .option('--rate <r>', 'share of (training) records to poison: 0.05 or 5%')
    .option('--count <n>', 'number of records to poison')
    .option('--target <target>', 'negsentiment | refusal | codeinjection | sst2sentiment | jailbreak[:FIELD] | phrase:TEXT | text:TEXT | keep')
    .option('--seed <s>', 'seed (non-negative integer); same seed → same bytes')
    .option('--out <dir>', 'output folder (never the input\'s folder; a non-empty one needs --force)')
    .option('--image-root <dir>', 'folder image paths are relative to (default: the input file\'s folder)')
    .option('--format <format>', 'alpaca | alpaca-jsonl | llava | llava-jsonl | coco (default: detected)')
    .option('--label <kind>', 'dirty (answers become the target) or clean (only records already carrying the target get the trigger)', 'dirty')
    .option('--negatives <r>', 'negative (partial-trigger, clean-answer) samples per poisoned sample (default: the attack\'s own, e.g. 1 for dualkey)')
    .option('--negative-count <n>', 'number of negative samples')
    .option('--test-rate <r>', 'hold out a test split (share of valid records), written clean and triggered')
    .option('--test-count <n>', 'hold out a test split of n records')
    .option('--on-error <mode>', 'malformed records: stop or skip (left out, listed in the manifest)', 'stop')
    .option('--preview [n]', 'write DIR/preview.txt (text diff) and DIR/preview.png (clean | poisoned | diff) for the first n poisoned samples (default 8)')
    .option('--backdoorllm', 'also write BackdoorLLM-style files backdoor<N>_<task>_<attack>.json (poisoned only) and none_backdoor<M>_... (clean only)')
    .option('--task <name>', 'task name in the BackdoorLLM file names (default from the target)')
    .option('--clean-count <m>', 'size of the BackdoorLLM clean set (default: as many as poisoned)')
    .option('--target-template <tpl>', 'caption template for phrase targets, with {target} and {a}/{A} (repeatable)', collect, []);
  imageOutputOptions(cmd)
    .option('--force', 'replace the files of a previous run in a non-empty output folder')
    .option('--list-attacks', 'list the attacks and their parameters')
    .option('--json', 'print one JSON object (summary) on stdout')
    .action(async (f: PoisonFlags) => {
      // the catalogue (and sharp, through the image attacks) loads here, not when the CLI starts
      const { attackDef, createAttack, listAttacks } = await import('../../attacks/index.js');
      if (f.listAttacks) {
        const all = listAttacks().map((d) => ({ name: d.name, family: d.family, summary: d.summary, params: d.params }));
        const human = (): string => {
          const lines: string[] = [];
          for (const fam of ['text', 'image', 'multimodal'] as const) {
            lines.push(`${fam}:`);
            for (const d of listAttacks(fam)) {
              lines.push(`  ${d.name} — ${d.summary}`);
              for (const p of d.params) lines.push(`      ${p.name}=${Array.isArray(p.default) ? p.default.join('|') : String(p.default)}  ${p.doc}${p.choices ? ` (${p.choices.join(', ')})` : ''}`);
            }
          }
          return lines.join('\n');
        };
        emit(Boolean(f.json), { attacks: all }, human);
        return;
      }
      const input = required(f.input, '--input');
      const attackName = required(f.attack, '--attack');
      const targetSpec = required(f.target, '--target');
      const out = required(f.out, '--out');
      const selection = parseAmount(f.rate, f.count, '--rate', '--count');
      if (!selection) throw new UserError('give --rate R or --count N');
      const seed = parseSeed(f.seed);
      checkInputFile(input);
      const { parseTarget, DEFAULT_CAPTION_TEMPLATES } = await import('../../attacks/targets.js');
      const { poison, checkTaskName } = await import('../../attacks/poisoner.js');
      const { parseOnError } = await import('../../data/errors.js');
      const { parseFormat } = await import('../../data/formats.js');
      const def = attackDef(attackName);
      const attack = createAttack(def.name, parseKeyValues(f.param, '--param'), seed);
      const target = parseTarget(targetSpec, f.targetTemplate.length ? f.targetTemplate : DEFAULT_CAPTION_TEMPLATES);
      if (f.label !== 'dirty' && f.label !== 'clean') throw new UserError(`--label must be dirty or clean, got "${f.label}"`);
      checkOutDir(out, Boolean(f.force));
      const images = parseImageOutput(f);
      if (f.negatives !== undefined && f.negativeCount !== undefined) throw new UserError('give --negatives or --negative-count, not both');
      const negatives =
        f.negatives !== undefined
          ? { rate: parseNumber(f.negatives, '--negatives', { min: 0, what: 'a number of negatives per poisoned sample' }) }
          : f.negativeCount !== undefined
            ? { count: parseCount(f.negativeCount, '--negative-count') }
            : undefined;
      if (f.task !== undefined) checkTaskName(f.task);
      const r = await poison({
        input,
        format: f.format ? parseFormat(f.format) : undefined,
        attack,
        target,
        seed,
        out,
        selection,
        label: f.label,
        negatives,
        test: parseAmount(f.testRate, f.testCount, '--test-rate', '--test-count'),
        imageRoot: f.imageRoot,
        onError: parseOnError(f.onError),
        link: images.link,
        encode: images.encode,
        maxPixels: images.maxPixels,
        preview: parsePreview(f.preview),
        backdoorllm: f.backdoorllm ? { task: f.task, cleanCount: f.cleanCount !== undefined ? parseCount(f.cleanCount, '--clean-count') : undefined } : undefined,
        concurrency: images.concurrency,
        force: Boolean(f.force),
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
