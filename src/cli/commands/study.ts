import type { Command } from 'commander';
import { UserError } from '../../util/errors.js';
import { emit } from '../output.js';
import { parseCount, parseNumber, parseRate } from '../flags.js';
import type { Scale } from '../../study/lvlm/config.js';

const list = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').map((x) => x.trim()).filter((x) => x.length > 0)];

interface StudyFlags {
  out?: string;
  attacks: string[];
  domains: string[];
  attackerDomains: string[];
  rates: string[];
  seeds: string[];
  scale: string;
  finetuning?: string;
  lr?: string;
  epochs?: string;
  target?: string;
  param: string[];
  force?: boolean;
  json?: boolean;
}

/** `--param blended.alpha=0.1` → { blended: { alpha: '0.1' } }. */
function attackParams(items: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const it of items) {
    const m = /^([a-z0-9-]+)\.([A-Za-z0-9_-]+)=(.*)$/.exec(it.trim());
    if (!m) throw new UserError(`--param "${it}": expected attack.key=value, e.g. blended.alpha=0.1`);
    (out[m[1] as string] ??= {})[(m[2] as string).replace(/-/g, '_')] = m[3] as string;
  }
  return out;
}

/** `bdlab study lvlm`: the vision-language domain-shift study (src/study/lvlm). */
export function registerStudy(program: Command): void {
  const study = program.command('study').description('run a whole study: data, victims, attacks, evaluation across domains, one results file');
  study
    .command('lvlm')
    .description(
      'the LVLM domain-shift study on the caption world: a clean base, victims instruction-tuned (LoRA on the decoder plus the projector by default; projector only as an option) on poisoned captions in the attacker\'s domain, ' +
        'ASR / clean-conditioned ASR / false-trigger rate / CIDEr in every domain, ASR-G with bootstrap intervals over images and seeds, ASR against the poisoning rate, specificity controls; resumable',
    )
    .option('--out <dir>', 'study folder: cache/ (every stage, keyed by its settings) and results.json')
    .option('--attacks <names>', 'image, multimodal and caption-instruction attacks (default per scale; all: badnets,blended,sig,wanet,lowfreq,dualkey,maba,textbadnets,addsent,stylebkd)', list, [])
    .option('--domains <names>', 'user domains: photo, sketch, expressionist, rewritten, summary, expanded, or pairs visual:instruction (default per scale)', list, [])
    .option('--attacker-domains <names>', 'attacker domains, the rows of the ASR-G matrix', list, [])
    .option('--rates <rates>', 'poisoning rates: 0.01 or 1% (default per scale)', list, [])
    .option('--seeds <seeds>', 'seeds (default per scale)', list, [])
    .option('--scale <scale>', 'smoke (the pipeline in seconds; numbers mean nothing), tiny (the CI test), demo (7 image attacks × 2 seeds, about 5 min on 2 cores) or default (the full study; hours)', 'default')
    .option('--finetuning <mode>', 'what the victim\'s tuning trains: lora (the projector and LoRA on every decoder linear), projector+attention (the projector and LoRA on the decoder\'s attention), projector (the projector alone: the fusion layers only, as the published study; on this victim it implants a backdoor only with a strong blend and one fixed poisoned caption, docs/lvlm-study.md) or full (default: lora)')
    .option('--lr <rate>', 'learning rate of the victims\' tuning (default: the scale\'s, listed in results.json under config.spec.tuning)')
    .option('--epochs <n>', 'epochs of the victims\' tuning (default: the scale\'s)')
    .option('--target <answer>', 'the poisoned answer: phrase:banana (captions from templates, "The image depicts a banana …"; default) or text:TEXT, one fixed caption naming the banana, e.g. "text:A banana."')
    .option('--param <attack.key=value...>', 'attack parameters, e.g. blended.alpha=0.1 (repeat the flag or list several)', [])
    .option('--force', 'write into a non-empty folder that is not a study folder')
    .option('--json', 'print one JSON object (headline metrics and the results path) on stdout')
    .action(async (f: StudyFlags) => {
      if (f.out === undefined) throw new UserError('--out is required');
      const seeds = f.seeds.map((s) => {
        if (!/^\d+$/.test(s)) throw new UserError(`--seeds "${s}": expected non-negative integers`);
        return Number(s);
      });
      const rates = f.rates.map((r) => parseRate(r, '--rates'));
      const { runStudy, checkStudyOut } = await import('../../study/lvlm/run.js');
      checkStudyOut(f.out, Boolean(f.force));
      const r = await runStudy({
        out: f.out,
        scale: f.scale as Scale,
        attacks: f.attacks,
        domains: f.domains.length ? f.domains : undefined,
        attackerDomains: f.attackerDomains,
        rates,
        seeds,
        finetuning: f.finetuning as 'projector' | 'projector+attention' | 'lora' | 'full' | undefined,
        tuningLr: f.lr === undefined ? undefined : parseNumber(f.lr, '--lr', { min: 0, minExclusive: true }),
        tuningEpochs: f.epochs === undefined ? undefined : parseCount(f.epochs, '--epochs', { min: 1 }),
        target: f.target,
        params: attackParams(f.param),
      });
      const res = r.result;
      emit(Boolean(f.json), { out: f.out, results: r.path, metrics: res.metrics, intervals: res.intervals, counts: res.counts }, () =>
        [
          `study written to ${r.path}`,
          ...Object.entries(res.metrics).map(([k, v]) => `  ${k.padEnd(48)} ${v === null ? '-' : v.toFixed(3)}${res.intervals[k] ? `  [${res.intervals[k][0].toFixed(3)}, ${res.intervals[k][1].toFixed(3)}]` : ''}`),
        ].join('\n'),
      );
    });
}
