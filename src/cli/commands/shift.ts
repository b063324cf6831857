import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';
import { emit } from '../output.js';
import { parseParamArgs } from '../../attacks/params.js';
import { parseOnError } from '../../data/errors.js';
import { parseFormat } from '../../data/formats.js';
import { parseLinkMode } from '../../data/image-store.js';
import { listImageStyles, listRewriters, parseRatios, resolveStyles, rewriter, shift } from '../../shift/index.js';
import { checkInputFile, checkOutDir, parseCount, parseSeed } from './poison.js';


interface ShiftFlags {
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
  onError: string;
  link: string;
  jpegQuality: string;
  pngCompression: string;
  preview?: string | boolean;
  concurrency: string;
  force?: boolean;
  list?: boolean;
  json?: boolean;
}

function describe(): string {
  const lines = ['image styles:'];
  for (const s of listImageStyles()) {
    lines.push(`  ${s.name} — ${s.summary}`);
    for (const p of s.params) lines.push(`      ${s.name}.${p.name}=${String(p.default)}  ${p.doc}${p.choices ? ` (${p.choices.join(', ')})` : ''}`);
  }
  lines.push('question/answer rewrites:');
  for (const r of listRewriters()) lines.push(`  ${r.name} — ${r.summary}`);
  return lines.join('\n');
}

export function registerShift(program: Command): void {
  program
    .command('shift')
    .description('make a domain-shifted dataset: image styles, question/answer rewrites, and mixtures with the original at given ratios')
    .option('--input <file>', 'dataset (same formats as poison)')
    .option('--out <dir>', 'output folder')
    .option('--seed <s>', 'seed (non-negative integer)')
    .option('--image-root <dir>', 'folder image paths are relative to (default: the input file\'s folder)')
    .option('--format <format>', 'alpaca | alpaca-jsonl | llava | llava-jsonl | coco (default: detected)')
    .option('--image-style <names>', 'comma-separated chain of image styles, applied in order (see --list)')
    .option('--style-param <key=value...>', 'style parameters, e.g. blur.sigma=3 (repeat the flag or list several)', [])
    .option('--question <rewrite>', 'question rewrite: summary | expansion | paraphrase')
    .option('--answer <rewrite>', 'answer rewrite: summary | expansion | paraphrase')
    .option('--mix <ratios>', 'percentages of shifted records, e.g. 20,60,80,90,98,100: writes DIR/mix-<R>/data.json each (nested selections)')
    .option('--on-error <mode>', 'malformed records: stop or skip', 'stop')
    .option('--link <mode>', 'how unchanged images reach DIR/images: hardlink, copy or symlink', 'hardlink')
    .option('--jpeg-quality <q>', 'quality of re-encoded JPEGs', '95')
    .option('--png-compression <l>', 'zlib level of re-encoded PNGs', '6')
    .option('--preview [n]', 'write DIR/preview.txt and DIR/preview.png for the first n shifted records (default 8)')
    .option('--concurrency <n>', 'records in flight', '16')
    .option('--force', 'write into a non-empty output folder')
    .option('--list', 'list the image styles and rewrites')
    .option('--json', 'print one JSON object (summary) on stdout')
    .action(async (f: ShiftFlags) => {
      if (f.list) {
        emit(
          Boolean(f.json),
          { image_styles: listImageStyles().map((s) => ({ name: s.name, summary: s.summary, params: s.params })), rewrites: listRewriters().map((r) => ({ name: r.name, summary: r.summary })) },
          describe,
        );
        return;
      }
      if (f.input === undefined) throw new UserError('--input is required');
      if (f.out === undefined) throw new UserError('--out is required');
      checkInputFile(f.input);
      const seed = parseSeed(f.seed);
      const names = f.imageStyle ? f.imageStyle.split(',').map((x) => x.trim()).filter((x) => x.length > 0) : [];
      const styles = resolveStyles(names, parseParamArgs(f.styleParam, '--style-param'));
      if (f.question) rewriter(f.question);
      if (f.answer) rewriter(f.answer);
      checkOutDir(f.out, Boolean(f.force));
      const jpegQuality = parseCount(f.jpegQuality, '--jpeg-quality');
      const pngCompression = parseCount(f.pngCompression, '--png-compression');
      if (jpegQuality < 1 || jpegQuality > 100) throw new UserError('--jpeg-quality must be 1..100');
      if (pngCompression > 9) throw new UserError('--png-compression must be 0..9');
      const concurrency = parseCount(f.concurrency, '--concurrency');
      if (concurrency < 1) throw new UserError('--concurrency must be ≥ 1');
      const { manifest: m } = await shift({
        input: f.input,
        format: f.format ? parseFormat(f.format) : undefined,
        out: f.out,
        seed,
        imageRoot: f.imageRoot,
        styles,
        question: f.question,
        answer: f.answer,
        mix: f.mix ? parseRatios(f.mix) : undefined,
        onError: parseOnError(f.onError),
        link: parseLinkMode(f.link),
        encode: { jpegQuality, pngCompression },
        preview: f.preview === undefined ? 0 : f.preview === true ? 8 : parseCount(f.preview as string, '--preview'),
        concurrency,
      });
      emit(
        Boolean(f.json),
        { out: f.out, seed: m.seed, format: m.format, shift: m.shift, counts: m.counts, mixtures: m.mixtures.map((x) => ({ ratio: x.ratio, file: x.file, shifted: x.shifted })), files: { ...m.files, manifest: 'manifest.json' }, sha256: m.sha256 },
        () =>
          [
            `shifted ${m.counts.valid} records (${[...m.shift.image_styles.map((s) => s.name), m.shift.question ? `question:${m.shift.question}` : '', m.shift.answer ? `answer:${m.shift.answer}` : ''].filter((x) => x).join(', ')}; seed ${m.seed})`,
            ...m.mixtures.map((x) => `  ${f.out}/${x.file}: ${x.ratio}% shifted (${x.shifted} records)`),
            `  ${f.out}/manifest.json`,
          ].join('\n'),
      );
    });
}
