import type { Command } from 'commander';
import { registerAccuracy } from './eval/accuracy.js';
import { registerAggregate } from './eval/aggregate.js';
import { registerAsr } from './eval/asr.js';
import { registerAsrg, registerMatrix } from './eval/asrg.js';
import { registerCaptions } from './eval/captions.js';
import { registerJudge } from './eval/judge.js';
import { registerMetrics } from './eval/metrics.js';
import { registerPerplexity } from './eval/perplexity.js';

/** `bdlab eval`: attack success, generalisation, caption quality, clean utility (accuracy, judge, perplexity), aggregation. */
export function registerEval(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description('measure backdoors and clean utility: ASR, ASR-G, caption metrics, accuracy, LLM judge, perplexity')
    .helpCommand(false);
  registerCaptions(evalCmd);
  registerAsr(evalCmd);
  registerAsrg(evalCmd);
  registerMatrix(evalCmd);
  registerAccuracy(evalCmd);
  registerJudge(evalCmd);
  registerPerplexity(evalCmd);
  registerAggregate(evalCmd);
  registerMetrics(evalCmd);
}
