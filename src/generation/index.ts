// Batch generation: the public API of the generation stage (records in,
// generated records out), for `bdlab generate`, experiment pipelines and studies.
export { readGenerationInput, promptRecords, recordsFromSamples, type GenerationRecord, type ReadInputOptions } from './input.js';
export { generateRecords, generatePrepared, DEFAULT_MAX_NEW_TOKENS, type GeneratedRecord, type GenerateRecordsOptions, type BatchOptions, type SamplingSettings } from './batch.js';
export { generateRemote, type RemoteOptions } from './remote.js';
export { preparePrompts, type PreparedPrompt, type PrepareOptions } from './prepare.js';
export { parseTemplate, renderWithTemplate, type TemplateName, type RenderedPrompt } from './templates.js';
export { generateToFile, generateJob, manifestPath, type FileJob, type GenerationJob, type GenerationSummary, type LocalBackend, type EndpointBackend } from './run.js';
export { journalPath } from './journal.js';
export type { GenerationSettings } from './settings.js';
