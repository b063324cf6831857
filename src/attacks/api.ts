/** The poisoning stage's public API (re-exported from the library entry point as `poisoning`). */
export { createAttack, listAttacks, attackDef, registerAttack } from './index.js';
export type { Attack, AttackDef, Plan, PlanContext, Params, ParamSpec, RawImage, ImageTrigger, Family } from './index.js';
export { parseTarget, TARGET_TEXTS, DEFAULT_CAPTION_TEMPLATES, type Target } from './targets.js';
export { poison, type PoisonOptions, type PoisonResult, type Manifest } from './poisoner.js';
export { registerKeywordScorer, type KeywordScorer } from './text/keywords.js';
export { registerAttributionProvider, type AttributionProvider, type AttributionMap } from './image/attribution.js';
export type { InputAwareGenerator, GeneratedTrigger } from './image/inputaware.js';
export type { GcgOptions, GcgResult } from './text/gcg.js';
export { detectFormat, FORMAT_NAMES, type FormatName } from '../data/formats.js';
export { readDataset, rewriteDataset } from '../data/dataset.js';
export { decodeImage, encodeImage } from '../data/image-io.js';
export { synthScene } from '../data/synthetic.js';
export type { Sample } from '../data/sample.js';
export { Rng } from '../util/rng.js';
