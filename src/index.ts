// backdoor-lab library entry point: re-exports the public API of each stage.
export {};
export * as evaluation from './eval/index.js';
export * as poisoning from './attacks/api.js';
export * as shift from './shift/index.js';
export * as generation from './generation/index.js';
export * as defenses from './defenses/index.js';
export * as lvlmStudy from './study/lvlm/index.js';
