import type { Command } from 'commander';
import { registerInfo } from './commands/info.js';
import { registerDemo } from './commands/demo.js';
import { registerPoison } from './commands/poison.js';
import { registerShift } from './commands/shift.js';
import { registerEval } from './commands/eval.js';
import { registerModel } from './commands/model.js';
import { registerInspect } from './commands/inspect.js';
import { registerGenerate } from './commands/generate.js';
import { registerTrain } from './commands/train.js';
import { registerRun } from './commands/run.js';
import { registerReport } from './commands/report.js';
import { registerDefend } from './commands/defend.js';
import { registerDetect } from './commands/detect.js';
import { registerAttack } from './commands/attack.js';
import { registerWorld } from './commands/world.js';
import { registerStudy } from './commands/study.js';

/**
 * Every top-level command, in help order. A new command is one file in
 * commands/ exporting `register(program)` plus a line here.
 */
export const commands: Array<(program: Command) => void> = [registerDemo, registerInfo, registerPoison, registerShift, registerEval, registerModel, registerInspect, registerGenerate, registerTrain, registerRun, registerReport, registerDefend, registerDetect, registerAttack, registerWorld, registerStudy];
