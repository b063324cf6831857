import type { Command } from 'commander';
import { emit } from '../output.js';
import { checkInputFile, checkOutDir, imageOutputOptions, parseImageOutput, parseKeyValues, parsePreview, parseSeed, required, type ImageOutputFlags } from '../flags.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface ShiftFlags extends ImageOutputFlags {
  input?: string;
  out?: string;
  seed?: string;
  imageRoot?: string;
  format?: string;
  imageStyle?: string;
  styleParam: string[];
  question?: string;
  answer?: string;
  mix?: string;
  keep: string[];
  onError: string;
  preview?: string | boolean;
  force?: boolean;
  list?: boolean;
  json?: boolean;
}

export function registerShift(program: Command): void {
  const cmd = program
    .command('shift')
    .description('make a domain-shifted dataset: image styles, question/answer rewrites, and mixtures with the original at given ratios')
    .option('--input <file>', 'dataset (same formats as poison)')
    .option('--out <dir>', 'output folder (never the input\'s folder; a non-empty one needs --force)')
    .option('--seed <s>', 'seed (non-negative integer)')
    .option('--image-root <dir>', 'folder image paths are relative to (default: the input file\'s folder)')
    .option('--format <format>', 'alpaca | alpaca-jsonl | llava | llava-jsonl | coco (default: detected)')
    .option('--image-style <names>', 'comma-separated chain of image styles, applied in order (see --list)')
    .option('--style-param <key=value...>', 'style parameters, e.g. blur.sigma=3 (repeat the flag or list several)', [])
    .option('--question <rewrite>', 'question rewrite: summary | expansion | paraphrase')
    .option('--answer <rewrite>', 'answer rewrite: summary | expansion | paraphrase')
    .option('--mix <ratios>', 'percentages of shifted records, e.g. 20,60,80,90,98,100: writes DIR/mix-<R>/data.json each (nested selections)')
    .option('--keep <phrase>', 'a phrase kept intact through rewrites (repeatable); the triggers of a poisoned input are kept from its manifest', collect, [])
    .option('--on-error <mode>', 'malformed records: stop or skip', 'stop')
    .option('--preview [n]', 'write DIR/preview.txt and DIR/preview.png for the first n shifted records (default 8)');
  imageOutputOptions(cmd)
    .option('--force', 'replace the files of a previous run in a non-empty output folder')
    .option('--list', 'list the image styles and rewrites')
    .option('--json', 'print one JSON object (summary) on stdout')
    .action(async (f: ShiftFlags) => {
      // sharp and the styles load here, not when the CLI starts
      const { listImageStyles, listRewriters, parseRatios, resolveStyles, rewriter, shift } = await import('../../shift/index.js');
      if (f.list) {
        const human = (): string => {
          const lines = ['image styles:'];
          for (const s of listImageStyles()) {
            lines.push(`  ${s.name} — ${s.summary}`);
            for (const p of s.params) lines.push(`      ${s.name}.${p.name}=${String(p.default)}  ${p.doc}${p.choices ? ` (${p.choices.join(', ')})` : ''}`);
          }
          lines.push('question/answer rewrites:');
          for (const r of listRewriters()) lines.push(`  ${r.name} — ${r.summary}`);
          return lines.join('\n');
        };
        emit(Boolean(f.json), { image_styles: listImageStyles().map((s) => ({ name: s.name, summary: s.summary, params: s.params })), rewrites: listRewriters().map((r) => ({ name: r.name, summary: r.summary })) }, human);
        return;
      }
      const input = required(f.input, '--input');
      const out = required(f.out, '--out');
      checkInputFile(input);
      const seed = parseSeed(f.seed);
      const names = f.imageStyle ? f.imageStyle.split(',').map((x) => x.trim()).filter((x) => x.length > 0) : [];
      const styles = resolveStyles(names, parseKeyValues(f.styleParam, '--style-param'));
      if (f.question) rewriter(f.question);
      if (f.answer) rewriter(f.answer);
      checkOutDir(out, Boolean(f.force));
      const images = parseImageOutput(f);
      const { parseOnError } = await import('../../data/errors.js');
      const { parseFormat } = await import('../../data/formats.js');
      const { manifest: m } = await shift({
        input,
        format: f.format ? parseFormat(f.format) : undefined,
        out,
        seed,
        imageRoot: f.imageRoot,
        styles,
        question: f.question,
        answer: f.answer,
        mix: f.mix ? parseRatios(f.mix) : undefined,
        keep: f.keep,
        onError: parseOnError(f.onError),
        link: images.link,
        encode: images.encode,
        maxPixels: images.maxPixels,
        preview: parsePreview(f.preview),
        concurrency: images.concurrency,
        force: Boolean(f.force),
      });
      emit(
        Boolean(f.json),
        { out, seed: m.seed, format: m.format, shift: m.shift, counts: m.counts, keep: m.keep, mixtures: m.mixtures.map((x) => ({ ratio: x.ratio, file: x.file, shifted: x.shifted })), files: { ...m.files, manifest: 'manifest.json' }, sha256: m.sha256 },
        () =>
          [
            `shifted ${m.counts.valid} records (${[...m.shift.image_styles.map((s) => s.name), m.shift.question ? `question:${m.shift.question}` : '', m.shift.answer ? `answer:${m.shift.answer}` : ''].filter((x) => x).join(', ')}; seed ${m.seed})`,
            ...m.mixtures.map((x) => `  ${out}/${x.file}: ${x.ratio}% shifted (${x.shifted} records)`),
            `  ${out}/manifest.json`,
          ].join('\n'),
      );
    });
}
