// Public API of the evaluation stage: attack success, ASR-G, caption metrics,
// clean utility, statistics and the versioned result record.
export { keywordRule, targetRule, KEYWORD_TASKS, TARGET_MATCHES, type AsrRule, type KeywordTask, type TargetMatch } from './asr/rules.js';
export {
  REFUSAL_KEYWORDS,
  NEGSENTIMENT_KEYWORDS,
  SST2_KEYWORDS,
  CODEINJECTION_KEYWORDS,
  JAILBREAK_REFUSAL_KEYWORDS,
} from './asr/keywords.js';
export { attackSuccess, pairedAttackSuccess, scoreAll, rateOf, type Rate, type Outcome, type PairedAsr } from './asr/score.js';
export { asrg } from './asrg.js';
export { buildMatrix, type AsrMatrix, type MatrixCell } from './matrix.js';
export { readMatrixFile } from './matrix-file.js';
export { cocoTokenize, ptbLex, PUNCTUATIONS } from './caption/ptb-tokenizer.js';
export { bleu, corpusBleu } from './caption/bleu.js';
export { ciderD } from './caption/cider.js';
export { rougeL, corpusRougeL, lcsLength } from './caption/rouge.js';
export {
  evaluateCaptions,
  evaluateTokenized,
  evaluateCaptionFiles,
  parsePredictions,
  parseReferences,
  type CaptionScores,
  type CaptionEvaluation,
} from './caption/coco.js';
export { labelAccuracy, labelExtractor, type AccuracyResult } from './accuracy.js';
export { chatComplete, type EndpointOptions } from '../util/openai-client.js';
export { defaultPrompt, JUDGE_MODES, type JudgeMode, type JudgePrompt } from './judge/prompts.js';
export { runJudge, type JudgeSummary } from './judge/judge.js';
export {
  perplexity,
  perplexityOfFolder,
  readPerplexityData,
  encodeItem,
  windows as perplexityWindows,
  bootstrapNll,
  resolvePerplexityOptions,
  OVERFLOW_POLICIES,
  type PerplexityItem,
  type PerplexityRecord,
  type PerplexityOptions,
  type FolderPerplexityOptions,
  type PerplexityResult,
  type PerplexityData,
  type TextPerplexity,
  type OverflowPolicy,
} from './perplexity/index.js';
export { wilson, wilsonPercent } from './stats/wilson.js';
export { summarize, type Summary } from './stats/summary.js';
export { studentTQuantile } from './stats/student-t.js';
export { makeResult, readResult, writeResult, validateResult, RESULT_SCHEMA, RESULT_VERSION, type EvalResult } from './results.js';
export { aggregateResults, type Aggregate } from './aggregate.js';
export { listMetrics, asrRule, type MetricInfo } from './registry.js';
