// Domains of the caption world. A domain is a pair: a visual domain (how the
// scene is rendered, render.ts) and an instruction domain (how the question
// is asked and which answer style it calls for). Names: `photo` (photo
// rendering, original questions), `summary` (flat rendering, summary
// questions and answers) or an explicit pair `sketch:rewritten`.
import { UserError } from '../../../util/errors.js';
import type { AnswerStyle } from './captions.js';
import { VISUAL_DOMAINS, type VisualDomain } from './render.js';

export interface InstructionDomain {
  readonly name: string;
  readonly summary: string;
  /** The questions of this domain (one is drawn per record). */
  readonly questions: readonly string[];
  /** The answer style its questions ask for. */
  readonly answers: AnswerStyle;
}

export const INSTRUCTION_DOMAINS: readonly InstructionDomain[] = [
  {
    name: 'original',
    summary: 'short, plain caption requests; one-sentence answers',
    answers: 'standard',
    questions: ['Describe the image briefly.', 'What is shown in this image?', 'Write a short caption for the image.', 'What does this picture show?', 'Give a caption for this image.'],
  },
  {
    name: 'rewritten',
    summary: 'the same requests reworded (longer, politer, other verbs); one-sentence answers',
    answers: 'standard',
    questions: [
      'Could you tell me what appears in this picture?',
      'I would like a one-sentence description of the scene, please.',
      'Take a look at the picture and explain what it contains.',
      'Please provide a concise description of what is depicted.',
      'Can you say in one sentence what can be observed here?',
    ],
  },
  {
    name: 'summary',
    summary: 'requests for a few words; summary answers',
    answers: 'summary',
    questions: ['Summarize the image in a few words.', 'Give a very short caption.', 'In a few words, what is in the image?', 'Name what is in the picture, briefly.', 'Sum up the picture in a phrase.'],
  },
  {
    name: 'expanded',
    summary: 'requests for detail; expanded answers (sizes, places, background, relation, count)',
    answers: 'expanded',
    questions: [
      'Describe the image in detail.',
      'Give a detailed description of the scene, including where each object is.',
      'Describe every object, its size and position, and the background.',
      'Write a detailed caption for this picture.',
      'Explain everything you can see in the image.',
    ],
  },
];

export const VISUAL_NAMES = VISUAL_DOMAINS.map((d) => d.name);
export const INSTRUCTION_NAMES = INSTRUCTION_DOMAINS.map((d) => d.name);

export function visualDomain(name: string): VisualDomain {
  const d = VISUAL_DOMAINS.find((x) => x.name === name);
  if (!d) throw new UserError(`unknown visual domain "${name}"; known: ${VISUAL_NAMES.join(', ')}`);
  return d;
}

export function instructionDomain(name: string): InstructionDomain {
  const d = INSTRUCTION_DOMAINS.find((x) => x.name === name);
  if (!d) throw new UserError(`unknown instruction domain "${name}"; known: ${INSTRUCTION_NAMES.join(', ')}`);
  return d;
}

/** A (visual, instruction) pair; `label` is `visual:instruction`. */
export interface DomainPair {
  visual: string;
  instruction: string;
  label: string;
}

const DEFAULT_VISUAL = 'flat';
const DEFAULT_INSTRUCTION = 'original';

export function pair(visual: string, instruction: string): DomainPair {
  visualDomain(visual);
  instructionDomain(instruction);
  return { visual, instruction, label: `${visual}:${instruction}` };
}

/**
 * Parses a domain name: `visual:instruction`, a visual name (with the
 * original questions) or an instruction name (with the flat rendering).
 */
export function parseDomain(name: string): DomainPair {
  const t = name.trim();
  const colon = t.indexOf(':');
  if (colon >= 0) return pair(t.slice(0, colon), t.slice(colon + 1));
  if (VISUAL_NAMES.includes(t)) return pair(t, DEFAULT_INSTRUCTION);
  if (INSTRUCTION_NAMES.includes(t)) return pair(DEFAULT_VISUAL, t);
  throw new UserError(`unknown domain "${name}"; visual: ${VISUAL_NAMES.join(', ')}; instruction: ${INSTRUCTION_NAMES.join(', ')}; or a pair visual:instruction`);
}

/**
 * The visual and instruction domains a world holds, from `--domain` names:
 * each name adds its visual or instruction domain (a pair adds both); a kind
 * left unnamed takes all of its domains. The world holds every combination.
 */
export function worldDomains(names: readonly string[]): { visual: string[]; instruction: string[] } {
  const visual = new Set<string>();
  const instruction = new Set<string>();
  for (const n of names) {
    const t = n.trim();
    if (t.includes(':')) {
      const p = parseDomain(t);
      visual.add(p.visual);
      instruction.add(p.instruction);
    } else if (VISUAL_NAMES.includes(t)) visual.add(t);
    else if (INSTRUCTION_NAMES.includes(t)) instruction.add(t);
    else parseDomain(t); // throws the error naming the known domains
  }
  return {
    visual: visual.size ? VISUAL_NAMES.filter((v) => visual.has(v)) : [...VISUAL_NAMES],
    instruction: instruction.size ? INSTRUCTION_NAMES.filter((v) => instruction.has(v)) : [...INSTRUCTION_NAMES],
  };
}
