import type { Command } from 'commander';
import { registerNeeded, type CommandEntry } from '../registry.js';

/** The subcommands, in help order; each module loads only when it runs (or for the full help). */
const SUBCOMMANDS: CommandEntry[] = [
  { name: 'captions', load: async () => (await import('./eval/captions.js')).registerCaptions },
  { name: 'asr', load: async () => (await import('./eval/asr.js')).registerAsr },
  { name: 'asrg', load: async () => (await import('./eval/asrg.js')).registerAsrg },
  { name: 'matrix', load: async () => (await import('./eval/asrg.js')).registerMatrix },
  { name: 'accuracy', load: async () => (await import('./eval/accuracy.js')).registerAccuracy },
  { name: 'judge', load: async () => (await import('./eval/judge.js')).registerJudge },
  { name: 'perplexity', load: async () => (await import('./eval/perplexity.js')).registerPerplexity },
  { name: 'aggregate', load: async () => (await import('./eval/aggregate.js')).registerAggregate },
  { name: 'metrics', load: async () => (await import('./eval/metrics.js')).registerMetrics },
];

/** `bdlab eval`: attack success, generalisation, caption quality, clean utility (accuracy, judge, perplexity), aggregation. */
export async function registerEval(program: Command, words: readonly string[]): Promise<void> {
  const evalCmd = program
    .command('eval')
    .description('measure backdoors and clean utility: ASR, ASR-G, caption metrics, accuracy, LLM judge, perplexity')
    .helpCommand(false);
  await registerNeeded(evalCmd, SUBCOMMANDS, words);
}
