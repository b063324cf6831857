/** Domain shifts: image styles, instruction rewrites, mixtures, and the `bdlab shift` pipeline. */
export { registerImageStyle, listImageStyles, imageStyle, resolveStyles, applyStyles, type ImageStyle, type StyleStep } from './image-styles.js';
export { registerRewriter, rewriter, listRewriters, type Rewriter, type RewriteContext, type Role } from './text-rewrite.js';
export { Mixture, parseRatios, STUDY_RATIOS } from './mixture.js';
export { shift, type ShiftOptions, type ShiftManifest } from './shifter.js';
export { PhraseGuard, phrasesFromManifest } from './keep.js';
