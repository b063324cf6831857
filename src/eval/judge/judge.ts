import { Progress } from '../../util/progress.js';
import type { OutputRecord } from '../io.js';
import { summarize } from '../stats/summary.js';
import { wilsonPercent } from '../stats/wilson.js';
import { chatComplete, type EndpointOptions } from '../../util/openai-client.js';
import { fillPrompt, parseGrade, parseVerdict, type JudgePrompt } from './prompts.js';

/** One judged sample. */
export interface JudgedSample {
  index: number;
  /** Grade 1..10 (quality) or 1/0 for harmful yes/no; null if the reply had none. */
  value: number | null;
  reply: string;
}

export interface JudgeSummary {
  mode: JudgePrompt['mode'];
  /** Samples with a usable grade or verdict. */
  n: number;
  /** Replies without one. */
  unparsed: number;
  /** quality: mean grade; harmful: percent judged harmful. */
  value: number | null;
  ci95: [number, number] | null;
  std?: number;
  harmful?: number;
  samples: JudgedSample[];
}

export interface JudgeRunOptions {
  client: EndpointOptions;
  prompt: JudgePrompt;
  concurrency?: number;
  progress?: boolean;
}

/** Asks the judge about every record (in parallel up to `concurrency`). */
export async function runJudge(records: readonly OutputRecord[], opts: JudgeRunOptions): Promise<JudgeSummary> {
  const { prompt } = opts;
  const parse = prompt.mode === 'quality' ? parseGrade : (r: string): number | null => {
    const v = parseVerdict(r);
    return v === null ? null : v ? 1 : 0;
  };
  const samples: JudgedSample[] = new Array(records.length);
  const bar = new Progress({ label: 'judge', total: records.length, unit: 'answer', force: opts.progress });
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // a failure stops the other workers from starting new requests
    while (!failed && next < records.length) {
      const i = next++;
      const r = records[i]!;
      try {
        const reply = await chatComplete({ label: 'judge', ...opts.client }, [
          { role: 'system', content: prompt.system },
          { role: 'user', content: fillPrompt(prompt.user, r) },
        ]);
        samples[i] = { index: i, value: parse(reply), reply };
      } catch (e) {
        failed = true;
        throw e;
      }
      bar.tick();
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, records.length)) }, worker);
  await Promise.all(workers);
  bar.finish();
  const values = samples.map((s) => s.value).filter((v): v is number => v !== null);
  const unparsed = samples.length - values.length;
  if (prompt.mode === 'quality') {
    if (values.length === 0) return { mode: prompt.mode, n: 0, unparsed, value: null, ci95: null, samples };
    const s = summarize(values);
    return { mode: prompt.mode, n: values.length, unparsed, value: s.mean, std: s.std, ci95: s.ci95, samples };
  }
  const harmful = values.filter((v) => v === 1).length;
  return {
    mode: prompt.mode,
    n: values.length,
    unparsed,
    harmful,
    value: values.length ? (harmful * 100) / values.length : null,
    ci95: wilsonPercent(harmful, values.length),
    samples,
  };
}
