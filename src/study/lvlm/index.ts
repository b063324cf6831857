// The vision-language domain-shift study as a library:
//   runLvlmStudy(config, { out, progress?, force? }) → Promise<StudyRun>
// - config: the scale preset (`smoke`, `tiny`, `demo`, `default`; see
//   config.ts) and any of its lists overridden (attacks, user and attacker
//   domains, rates, seeds, fine-tuning mode, attack parameters);
// - out: the study folder (cache/ of every stage, results.json); a folder
//   holding other files is refused unless `force`; a finished or interrupted
//   study in it is resumed, finished stages are not recomputed;
// - progress: one line per stage (default: stderr with a `[study]` prefix);
// - resolves to the results (the evaluation-result record, kind `study`),
//   the path of results.json and the resolved plan.
import { checkStudyOut, runStudy, type StudyRun } from './run.js';
import type { StudyOptions } from './config.js';

export { SCALES, SCALE_SPECS, FINETUNING, ALL_ATTACKS, ALL_USER_DOMAINS, DEFAULT_FINETUNING, resolvePlan, type Scale, type ScaleSpec, type Finetuning, type StudyOptions, type StudyPlan } from './config.js';
export { RESULTS_FILE, type StudyRun } from './run.js';

export type LvlmStudyConfig = Omit<StudyOptions, 'out' | 'scale'> & { scale?: StudyOptions['scale'] };

export interface LvlmStudyRunOptions {
  out: string;
  progress?: (line: string) => void;
  force?: boolean;
}

export async function runLvlmStudy(config: LvlmStudyConfig, o: LvlmStudyRunOptions): Promise<StudyRun> {
  checkStudyOut(o.out, Boolean(o.force));
  return runStudy({ ...config, scale: config.scale ?? 'default', out: o.out }, o.progress);
}
