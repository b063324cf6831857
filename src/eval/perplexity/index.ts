// Clean utility of a language model as perplexity over a text set: the
// token-weighted exp(mean negative log-likelihood) of plain texts, or of the
// answers of instruction records given their prompts (rendered with the same
// template as training, src/models/prompt.ts).
export { encodeItem, isEmptyItem, type PerplexityItem, type PerplexityRecord, type ScoredSequence } from './encode.js';
export { OVERFLOW_POLICIES, windows, type OverflowPolicy, type Window } from './windows.js';
export { bootstrapNll } from '../stats/bootstrap.js';
export { perplexity, perplexityOfFolder, resolvePerplexityOptions, type FolderPerplexityOptions, type PerplexityOptions, type PerplexityResult, type TextPerplexity } from './score.js';
export { readPerplexityData, type PerplexityData } from './data.js';
