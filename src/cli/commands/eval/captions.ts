import type { Command } from 'commander';
import { emit } from '../../output.js';
import { evaluateCaptionFiles } from '../../../eval/caption/coco.js';
import { fileSha256 } from '../../../eval/io.js';
import { makeResult, writeResult } from '../../../eval/results.js';
import { renderTable } from '../../../eval/table.js';
import { seedOf, subjectOf, templateOf, withCommonOptions, type MetaOptions } from './common.js';

interface CaptionsOptions extends MetaOptions {
  pred: string;
  refs: string;
  perImage?: boolean;
}

const KEYS = ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr', 'ROUGE-L'] as const;

export function registerCaptions(evalCmd: Command): void {
  withCommonOptions(
    evalCmd
      .command('captions')
      .description('coco-caption BLEU-1..4, CIDEr-D and ROUGE-L of COCO results against COCO caption annotations')
      .requiredOption('--pred <file>', 'COCO results: [{"image_id", "caption"}], one per image')
      .requiredOption('--refs <file>', 'COCO captions: {"annotations": [{"image_id", "caption"}], ...}')
      .option('--per-image', 'include per-image CIDEr-D and ROUGE-L in the --out record'),
  ).action((o: CaptionsOptions) => {
    const ev = evaluateCaptionFiles(o.pred, o.refs);
    const s = ev.scores;
    if (o.out) {
      writeResult(
        o.out,
        makeResult('captions', {
          subject: subjectOf(o, 'captions'),
          seed: seedOf(o),
          prompts: { template: templateOf(o) },
          config: {
            tokenizer: 'PTB (coco-caption 3.4.1 behaviour, TypeScript), lower-cased, punctuation removed',
            bleu: { n: 4, effective_ref_len: 'closest' },
            cider: { variant: 'CIDEr-D', n: 4, sigma: 6, df: 'references of the evaluated images' },
            rouge: { beta: 1.2 },
          },
          inputs: [
            { role: 'predictions', path: o.pred, sha256: fileSha256(o.pred), records: s.n },
            { role: 'references', path: o.refs, sha256: fileSha256(o.refs), records: ev.annotationCount },
          ],
          counts: { n: s.n },
          metrics: Object.fromEntries(KEYS.map((k) => [k, s[k]])),
          ...(o.perImage
            ? {
                samples: ev.predictions.map((p, i) => ({ image_id: p.image_id, CIDEr: ev.perImage.CIDEr[i], 'ROUGE-L': ev.perImage['ROUGE-L'][i] })),
              }
            : {}),
        }),
      );
    }
    emit(
      Boolean(o.json),
      { 'BLEU-1': s['BLEU-1'], 'BLEU-2': s['BLEU-2'], 'BLEU-3': s['BLEU-3'], 'BLEU-4': s['BLEU-4'], CIDEr: s.CIDEr, 'ROUGE-L': s['ROUGE-L'], n: s.n },
      () => `${renderTable([...KEYS, 'n'], [[...KEYS.map((k) => s[k]), s.n]], { digits: 4 })}`,
    );
  });
}
