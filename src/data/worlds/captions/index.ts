// The image-caption world: seeded scenes, reference captions from their scene
// graphs, visual and instruction domains, splits without shared scenes, and
// the writer of LLaVA training files and COCO caption annotations.
export { KINDS, COLORS, BACKGROUND_NAMES, SIZES, sampleScene, sceneKey, cellPhrase, groupPhrase, relation, objectCount, type Scene, type Group, type SceneObject, type Cell } from './scene.js';
export { ANSWER_STYLES, CAPTIONS_PER_SCENE, candidates, referenceCaptions, nounPhrase, type AnswerStyle } from './captions.js';
export { VISUAL_DOMAINS, renderScene, expressionistColor, type VisualDomain } from './render.js';
export { INSTRUCTION_DOMAINS, VISUAL_NAMES, INSTRUCTION_NAMES, parseDomain, worldDomains, pair, visualDomain, instructionDomain, type DomainPair, type InstructionDomain } from './domains.js';
export { DEFAULT_SPLITS, parseSplits, parseReserve, splitCounts, drawScenes, type SplitSpec, type Reserve } from './splits.js';
export { writeCaptionWorld, worldFiles, worldImage, sceneCaptions, WORLD_SCHEMA, WORLD_VERSION, type CaptionWorldOptions, type CaptionWorldManifest, type WorldDataset } from './writer.js';
