import { isKeywordTask, KEYWORD_TASKS, keywordRule, targetRule, TARGET_MATCHES, type AsrRule, type TargetMatch } from './asr/rules.js';

/**
 * Every metric this module computes, by name, so experiment specs and the CLI
 * reach them by name. ASR rules are looked up with `asrRule`; the other
 * entries describe what a result's `metrics` keys mean.
 */
export type MetricFamily = 'attack-success' | 'generalisation' | 'caption' | 'utility';

export interface MetricInfo {
  name: string;
  family: MetricFamily;
  unit: string;
  description: string;
}

const METRICS: MetricInfo[] = [
  ...KEYWORD_TASKS.map((t): MetricInfo => ({ name: `asr:${t}`, family: 'attack-success', unit: 'percent', description: keywordRule(t).description })),
  { name: 'asr:target', family: 'attack-success', unit: 'percent', description: 'target phrase appears in the output (contains / word / exact)' },
  { name: 'ftr', family: 'attack-success', unit: 'percent', description: 'false-trigger rate: the target behaviour on clean (untriggered) inputs' },
  { name: 'asrg', family: 'generalisation', unit: 'fraction', description: 'ASR-G = min(1, 1 + (ASR_user − ASR_attacker) / max(ASR_attacker, ASR_user)); 0 if both are 0' },
  { name: 'BLEU-1', family: 'caption', unit: 'fraction', description: 'coco-caption BLEU-1 (closest reference length, corpus brevity penalty)' },
  { name: 'BLEU-2', family: 'caption', unit: 'fraction', description: 'coco-caption BLEU-2' },
  { name: 'BLEU-3', family: 'caption', unit: 'fraction', description: 'coco-caption BLEU-3' },
  { name: 'BLEU-4', family: 'caption', unit: 'fraction', description: 'coco-caption BLEU-4' },
  { name: 'CIDEr', family: 'caption', unit: 'coco scale', description: 'coco-caption CIDEr-D (n=4, sigma 6, clipped TF-IDF, ×10)' },
  { name: 'ROUGE-L', family: 'caption', unit: 'fraction', description: 'coco-caption ROUGE-L (LCS, beta 1.2)' },
  { name: 'accuracy', family: 'utility', unit: 'percent', description: 'label accuracy: first label word in the answer equals the reference' },
  { name: 'judge:quality', family: 'utility', unit: 'grade 1-10', description: 'mean grade from an OpenAI-compatible judge' },
  { name: 'judge:harmful', family: 'utility', unit: 'percent', description: 'share of answers an OpenAI-compatible judge calls harmful compliance' },
  { name: 'perplexity', family: 'utility', unit: 'exp(nats/token)', description: 'token-weighted exp(mean NLL) of a causal LM over a text set (answers given their prompts for instruction records)' },
];

export function listMetrics(): readonly MetricInfo[] {
  return METRICS;
}


/** The ASR rule for a task name, or a target phrase rule. */
export function asrRule(spec: { task?: string; target?: string; match?: string; caseSensitive?: boolean }): AsrRule {
  if ((spec.task === undefined) === (spec.target === undefined)) throw new RangeError('give exactly one of a task or a target phrase');
  if (spec.task !== undefined) {
    if (!isKeywordTask(spec.task)) throw new RangeError(`unknown task "${spec.task}" (known: ${KEYWORD_TASKS.join(', ')})`);
    return keywordRule(spec.task);
  }
  const match = spec.match ?? 'contains';
  if (!(TARGET_MATCHES as readonly string[]).includes(match)) throw new RangeError(`unknown match "${match}" (known: ${TARGET_MATCHES.join(', ')})`);
  return targetRule(spec.target!, match as TargetMatch, spec.caseSensitive ?? false);
}
