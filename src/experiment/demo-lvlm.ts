// The vision-language half of `bdlab demo`: the LVLM domain-shift study at its
// `demo` scale (src/study/lvlm), in its own sub-folder, with its tables and
// report. The study caches every stage, so a rerun resumes.
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { DemoPart } from './demo.js';

export const lvlmDemoPart: DemoPart = {
  name: 'lvlm',
  async run({ dir, force, quick, log }) {
    const { runLvlmStudy } = await import('../study/lvlm/index.js');
    const { readStudyRecord, renderStudyReport, studyScale, studyTables } = await import('../study/lvlm/present.js');
    const study = await runLvlmStudy({ scale: quick ? 'smoke' : 'demo' }, { out: join(dir, quick ? 'smoke' : 'study'), progress: log, force });
    const record = readStudyRecord(study.result, study.path);
    const sub = quick ? 'smoke' : 'study';
    writeFileAtomic(join(dir, sub, 'report.html'), await renderStudyReport(record, join(dir, sub)));
    return { results: `lvlm/${sub}/results.json`, report: `lvlm/${sub}/report.html`, tables: studyTables(record), scale: studyScale(record) };
  },
};
