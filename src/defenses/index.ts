/**
 * The defense catalogue: importing this module registers every defense.
 * crow (CROW), finetune (clean fine-tuning), wanda (Wanda pruning),
 * fineprune (fine-pruning), quantize (RTN weight quantisation, fake).
 * Detection of triggered inputs is separate: detect.ts.
 */
import './crow.js';
import './finetune.js';
import './wanda.js';
import './fineprune.js';
import './quantize.js';

export { registerDefense, listDefenses, defenseDef, defenseParams } from './registry.js';
export { runDefense, RECORD_FILE, type DefenseRecord } from './run.js';
export type { DefenseDef, DefenseInput, DefenseOutcome, OutputKind } from './types.js';
export { crowTerms, crowObjective, consistency, layerDistances, layerPairs, parseLayerSlice, inspectCrow, DEFAULT_CROW, type CrowOptions, type CrowTerms } from './crow.js';
export { detect, consistencyProfiles, fitScorer, DEFAULT_DETECT, type DetectOptions, type DetectResult } from './detect.js';
export { auroc, thresholdAtFpr } from './roc.js';
