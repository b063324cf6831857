import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';
import { emit } from '../output.js';
import { checkOutDir, parseCount, parseSeed } from '../flags.js';

const collect = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').map((x) => x.trim()).filter((x) => x.length > 0)];

interface WorldFlags {
  out?: string;
  images?: string;
  seed?: string;
  domain: string[];
  size: string;
  format: string;
  splits: string;
  captionsPerImage: string;
  reserve: string[];
  force?: boolean;
  list?: boolean;
  json?: boolean;
}

/** `bdlab world captions`: the seeded image-caption world (src/data/worlds/captions). */
export function registerWorld(program: Command): void {
  const world = program.command('world').description('generate synthetic worlds (data sets with known content) for experiments');
  world
    .command('captions')
    .description('seeded scenes rendered in several visual domains, 5 reference captions each from the scene graph; LLaVA training files and COCO caption annotations per split and domain')
    .option('--out <dir>', 'output folder')
    .option('--images <n>', 'scenes in all splits together (each is rendered once per visual domain)')
    .option('--seed <s>', 'seed (non-negative integer); same seed → same bytes')
    .option('--domain <name...>', 'visual (flat, photo, sketch, expressionist) or instruction (original, rewritten, summary, expanded) domains, or pairs visual:instruction; default all; the world holds every combination', collect, [])
    .option('--size <px>', 'image side in pixels (render at the model\'s input size so no later resize touches triggers)', '64')
    .option('--format <fmt>', 'png or jpeg', 'png')
    .option('--splits <spec>', 'split names and fractions', 'train=0.8,val=0.1,test=0.1')
    .option('--captions-per-image <k>', 'LLaVA records per scene (1..5), each with another reference caption', '1')
    .option('--reserve <kind=splits...>', 'keep an object kind to some splits, e.g. banana=base (it is drawn nowhere else)', [])
    .option('--list', 'list the domains')
    .option('--force', 'write into a non-empty output folder')
    .option('--json', 'print one JSON object (the manifest) on stdout')
    .action(async (f: WorldFlags) => {
      const W = await import('../../data/worlds/captions/index.js');
      if (f.list) {
        const domains = {
          visual: W.VISUAL_DOMAINS.map((d) => ({ name: d.name, summary: d.summary })),
          instruction: W.INSTRUCTION_DOMAINS.map((d) => ({ name: d.name, summary: d.summary, answers: d.answers, questions: d.questions })),
        };
        emit(Boolean(f.json), domains, () =>
          ['visual domains:', ...domains.visual.map((d) => `  ${d.name} — ${d.summary}`), 'instruction domains:', ...domains.instruction.map((d) => `  ${d.name} — ${d.summary}`)].join('\n'),
        );
        return;
      }
      if (f.out === undefined) throw new UserError('--out is required');
      if (f.images === undefined) throw new UserError('--images is required');
      const seed = parseSeed(f.seed);
      const images = parseCount(f.images, '--images');
      if (images < 1) throw new UserError('--images must be at least 1');
      const size = parseCount(f.size, '--size');
      if (f.format !== 'png' && f.format !== 'jpeg') throw new UserError(`--format must be png or jpeg, got "${f.format}"`);
      const domains = W.worldDomains(f.domain);
      const splits = W.parseSplits(f.splits);
      checkOutDir(f.out, Boolean(f.force));
      const m = await W.writeCaptionWorld({
        out: f.out,
        images,
        seed,
        size,
        format: f.format,
        visual: domains.visual,
        instruction: domains.instruction,
        splits,
        captionsPerImage: parseCount(f.captionsPerImage, '--captions-per-image'),
        reserve: W.parseReserve(f.reserve, splits),
      });
      emit(Boolean(f.json), { out: f.out, ...m }, () =>
        [
          `wrote ${m.images} scenes × ${m.domains.visual.length} visual domains (${m.size} px ${m.format}) to ${f.out}`,
          `splits: ${Object.entries(m.splits).map(([k, v]) => `${k} ${v}`).join(', ')}`,
          `domains: ${m.domains.visual.join(', ')} × ${m.domains.instruction.join(', ')} → ${m.datasets.length} LLaVA files and COCO caption files`,
          `manifest: ${f.out}/world.json`,
        ].join('\n'),
      );
    });
}
