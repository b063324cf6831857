/**
 * Every stage kind of this build; importing this module registers them. A new
 * kind (defend, detect, captions, ...) is one file here plus a line below, and
 * its nodes in plan.ts.
 */
import './world.js';
import './model.js';
import './train.js';
import './poison.js';
import './trigger.js';
import './shift.js';
import './generate.js';
import './evaluate.js';
import './consistency.js';

export { registerStage, stageKind, stageKinds } from './registry.js';
export { registerWorld, worldDef, worldNames, WORLD_FILES, type WorldDef } from './world.js';
export { ModelPool } from './model-pool.js';
export type { StageKind, StageContext, Input, Json, AnyStageKind } from './types.js';
