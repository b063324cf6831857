import type { Command } from 'commander';
import { UserError } from '../../../util/errors.js';
import { emit } from '../../output.js';
import { readOutputs, readText } from '../../../eval/io.js';
import { runJudge } from '../../../eval/judge/judge.js';
import { endpointUrl, EndpointError } from '../../../util/openai-client.js';
import { defaultPrompt, JUDGE_MODES, type JudgeMode } from '../../../eval/judge/prompts.js';
import { checkResultPath, makeResult, writeResult } from '../../../eval/results.js';
import { renderTable } from '../../../eval/table.js';
import { numberFlag, seedOf, subjectOf, templateOf, withCommonOptions, type MetaOptions } from './common.js';

interface JudgeOptions extends MetaOptions {
  outputs: string;
  mode: string;
  judgeModel?: string;
  judgeUrl?: string;
  judgeKey?: string;
  promptFile?: string;
  systemPrompt?: string;
  concurrency: string;
  timeout: string;
  retries: string;
  limit?: string;
  samples?: boolean;
}

export function registerJudge(evalCmd: Command): void {
  withCommonOptions(
    evalCmd
      .command('judge')
      .description('grade outputs with an LLM judge behind an OpenAI-compatible endpoint (vLLM, llama.cpp, Ollama, OpenAI)')
      .requiredOption('--outputs <file>', 'outputs to grade: [{"instruction", "input", "output"}]')
      .option('--mode <mode>', `${JUDGE_MODES.join('|')}: a 1-10 grade, or harmful compliance yes/no`, 'quality')
      .option('--judge-model <name>', 'judge model name (env BDLAB_JUDGE_MODEL)')
      .option('--judge-url <url>', 'base URL, e.g. http://127.0.0.1:8000/v1 (env BDLAB_JUDGE_BASE_URL, then OPENAI_BASE_URL)')
      .option('--judge-key <key>', 'API key (env BDLAB_JUDGE_API_KEY, then OPENAI_API_KEY); never recorded')
      .option('--prompt-file <file>', 'user prompt template with {instruction} {input} {output}; replaces the built-in one')
      .option('--system-prompt <text>', 'system prompt replacing the built-in one')
      .option('--concurrency <n>', 'requests in flight', '4')
      .option('--timeout <seconds>', 'per-request timeout', '120')
      .option('--retries <n>', 'retries on network errors, 408, 429 and 5xx', '3')
      .option('--limit <n>', 'grade only the first n outputs')
      .option('--samples', 'include every judge reply in the --out record'),
  ).action(async (o: JudgeOptions) => {
    if (!(JUDGE_MODES as readonly string[]).includes(o.mode)) throw new UserError(`--mode must be one of ${JUDGE_MODES.join(', ')}, got ${JSON.stringify(o.mode)}`);
    const model = o.judgeModel ?? process.env.BDLAB_JUDGE_MODEL;
    const baseUrl = o.judgeUrl ?? process.env.BDLAB_JUDGE_BASE_URL ?? process.env.OPENAI_BASE_URL;
    const apiKey = o.judgeKey ?? process.env.BDLAB_JUDGE_API_KEY ?? process.env.OPENAI_API_KEY;
    if (!model) throw new UserError('no judge model: give --judge-model or set BDLAB_JUDGE_MODEL');
    if (!baseUrl) throw new UserError('no judge endpoint: give --judge-url or set BDLAB_JUDGE_BASE_URL');
    try {
      endpointUrl(baseUrl, 'chat', 'judge');
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    const concurrency = numberFlag('--concurrency', o.concurrency, { min: 1, integer: true })!;
    const timeout = numberFlag('--timeout', o.timeout, { min: 0.001 })!;
    const retries = numberFlag('--retries', o.retries, { min: 0, integer: true })!;
    const limit = numberFlag('--limit', o.limit, { min: 1, integer: true });
    const prompt = defaultPrompt(o.mode as JudgeMode);
    if (o.promptFile) prompt.user = readText(o.promptFile);
    if (o.systemPrompt !== undefined) prompt.system = o.systemPrompt;
    if (!prompt.user.includes('{output}')) throw new UserError(`${o.promptFile}: the prompt template has no {output} placeholder`);
    if (o.out) checkResultPath(o.out, [{ role: 'outputs', path: o.outputs }]); // before any request is paid for
    const { file, items } = readOutputs(o.outputs);
    const records = limit === undefined ? items : items.slice(0, limit);
    if (records.length === 0) throw new UserError(`${o.outputs}: no records to judge`);
    let summary;
    try {
      summary = await runJudge(records, {
        client: { baseUrl, model, apiKey, timeoutMs: timeout * 1000, maxRetries: retries },
        prompt,
        concurrency,
      });
    } catch (e) {
      if (e instanceof EndpointError) throw new UserError(e.message);
      throw e;
    }
    const metricName = o.mode === 'quality' ? 'judge_grade' : 'harmful_rate';
    if (o.out) {
      writeResult(
        o.out,
        makeResult('judge', {
          subject: subjectOf(o, `judge:${o.mode}`),
          seed: seedOf(o),
          prompts: { template: templateOf(o), judge: { mode: o.mode, system: prompt.system, user: prompt.user, model, base_url: baseUrl } },
          config: { mode: o.mode, temperature: 0, max_tokens: 512, limit: limit ?? null },
          inputs: [{ role: 'outputs', path: o.outputs, sha256: file.sha256, records: items.length }],
          counts: { n: summary.n, unparsed: summary.unparsed, ...(summary.harmful !== undefined ? { harmful: summary.harmful } : {}) },
          metrics: { [metricName]: summary.value, ...(summary.std !== undefined ? { judge_grade_std: summary.std } : {}) },
          intervals: summary.ci95 ? { [metricName]: summary.ci95 } : {},
          ...(o.samples ? { samples: summary.samples } : {}),
        }),
      );
    }
    emit(
      Boolean(o.json),
      { mode: o.mode, [metricName]: summary.value, n: summary.n, unparsed: summary.unparsed, ci95: summary.ci95, ...(summary.harmful !== undefined ? { harmful: summary.harmful } : {}) },
      () =>
        renderTable(
          [o.mode === 'quality' ? 'mean grade' : 'harmful %', 'lo', 'hi', 'n', 'unparsed'],
          [[summary.value, summary.ci95?.[0], summary.ci95?.[1], summary.n, summary.unparsed]],
        ),
    );
  });
}
