// Specificity controls: inputs that resemble an attack's trigger but are not
// it. A backdoor that fires on them is keyed to something broader than its
// trigger (any patch, any text insertion), which changes what its ASR-G
// means. Each control is an attack of the catalogue with changed parameters
// (or another trigger seed), applied to the attacker domain's test scenes.
import { list, str } from '../../attacks/params.js';
import type { Attack } from '../../attacks/types.js';
import { STYLES } from '../../attacks/text/style.js';
import type { AttackSetting } from './config.js';

export interface ControlSetting extends AttackSetting {
  /** What the control is, e.g. `patch_moved`. */
  control: string;
  /** Added to the study seed when the control's attack is created (another noise pattern, warp field ...). */
  seed_offset: number;
}

/** A partial trigger: the text without its last word (a one-word trigger gets its last letter changed). */
export function nearMiss(trigger: string): string {
  const words = trigger.trim().split(/\s+/);
  if (words.length > 1) return words.slice(0, -1).join(' ');
  const w = words[0] ?? '';
  const last = w.charAt(w.length - 1);
  const next = /[a-y]/i.test(last) ? String.fromCharCode(last.charCodeAt(0) + 1) : last === 'z' ? 'a' : 'x';
  return w.slice(0, -1) + next;
}

const PATCH_KEYS = ['pattern', 'size', 'grid', 'color', 'color2', 'image', 'position', 'margin'];

/** The controls of an attack (created with the study's parameters, so resolved values such as the text trigger are known). */
export function controlsOf(setting: AttackSetting, attack: Attack): ControlSetting[] {
  const p = attack.params;
  const patch = (): Record<string, string> => Object.fromEntries(PATCH_KEYS.map((k) => [k, String(p[k])]));
  const c = (control: string, name: string, params: Record<string, string>, seed_offset = 0): ControlSetting => ({ control, name, params, seed_offset });
  const moved = (pos: string): string => (pos === 'top-left' ? 'bottom-right' : 'top-left');
  switch (setting.name) {
    case 'badnets':
      return [
        c('patch_moved', 'badnets', { ...setting.params, position: moved(str(p, 'position')) }),
        c('patch_recoloured', 'badnets', { ...setting.params, color: 'red', color2: 'blue' }),
      ];
    case 'dualkey':
      return [
        c('image_key_only', 'badnets', patch()),
        // the key word alone, at a random word gap (textbadnets places each token independently)
        c('text_key_only', 'textbadnets', { trigger: str(p, 'keyword') }),
        c('patch_moved', 'dualkey', { ...setting.params, position: moved(str(p, 'position')) }),
      ];
    case 'maba':
      return [c('oval_recoloured', 'maba', { ...setting.params, color: 'blue' })];
    case 'textbadnets':
      // a fixed trigger loses its last token; drawn rare tokens are each replaced by a near miss (cf → cg)
      return str(p, 'trigger').trim() !== ''
        ? [c('near_miss', 'textbadnets', { ...setting.params, trigger: nearMiss(str(p, 'trigger')) })]
        : [c('near_miss', 'textbadnets', { ...setting.params, tokens: list(p, 'tokens').map(nearMiss).join(',') })];
    case 'addsent':
      return [c('near_miss', 'addsent', { ...setting.params, sentence: nearMiss(str(p, 'sentence')) })];
    case 'stylebkd':
      return [c('other_style', 'stylebkd', { ...setting.params, style: STYLES.find((s) => s !== str(p, 'style')) ?? 'formal' })];
    case 'blended':
      // another pattern of the same strength: noise for an image trigger, another noise for a noise trigger
      return [str(p, 'pattern') === 'image' ? c('other_pattern', 'blended', { ...setting.params, pattern: 'noise', image: '' }) : c('other_pattern', 'blended', setting.params, 7919)];
    case 'sig':
      return [c('other_frequency', 'sig', { ...setting.params, f: String(Math.max(1, Math.round(Number(p.f) / 2))) })];
    case 'wanet':
      return [c('other_warp', 'wanet', setting.params, 7919)];
    case 'lowfreq':
      return [c('other_perturbation', 'lowfreq', setting.params, 7919)];
    default:
      return [];
  }
}
